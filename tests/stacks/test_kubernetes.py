"""The minikube stack under mocks: what `pulumi up --stack minikube` registers, and each component alone."""

from __future__ import annotations

import json

import pytest
import yaml

from components.builders.dashboard_catalogue import load_dashboards
from components.builders.sizing import bytes_of
from components.kubernetes.prometheus_rbac import DISCOVERY_RULES
from stacks.settings import ConfigError
from support.kubernetes_api import MINIKUBE_NODES
from support.pulumi_internals import is_secret, reveal
from support.stacks import PATCH_MODE, USERS_CLUSTER, Run, run_stack

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
PATCH = "kubernetes:ray.io/v1:RayClusterPatch"
RAY_CLUSTER = "kubernetes:ray.io/v1:RayCluster"


def head_env(result: Run) -> dict[str, str]:
    """The head's RAY_* environment: in the patch, or in the created RayCluster."""
    patches = result.of_type(PATCH)
    body = patches[0].plain if patches else result.one(RAY_CLUSTER, "ray-cluster-cluster").plain
    (container,) = [c for c in body["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
                    if c["name"] == "ray-head"]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}  # RAY_AUTH_TOKEN: a secretKeyRef


def service_url(result: Run, name: str) -> str:
    service = result.one(SERVICE, f"{name}-service").plain
    port = service["spec"]["ports"][0]["port"]
    return f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc:{port}"


@pytest.mark.parametrize("mode", ["created", "patched"])
def test_head_env_points_at_the_deployed_services(mode, minikube, minikube_patch):
    env = head_env(minikube if mode == "created" else minikube_patch)
    assert env["RAY_GRAFANA_HOST"] == service_url(minikube, "grafana") == "http://grafana.monitoring.svc:3000"
    assert env["RAY_PROMETHEUS_HOST"] == service_url(minikube, "prometheus") == "http://prometheus.monitoring.svc:9090"
    assert env["RAY_GRAFANA_IFRAME_HOST"] == "http://localhost:3000"
    datasources = yaml.safe_load(minikube.one(CONFIG_MAP, "grafana-provisioning").plain["data"]["datasources.yaml"])
    (datasource,) = [d for d in datasources["datasources"] if d["type"] == "prometheus"]
    assert env["RAY_PROMETHEUS_NAME"] == datasource["name"] == "Prometheus"
    assert datasource["url"] == env["RAY_PROMETHEUS_HOST"]


def test_patch_touches_only_the_head_env_and_restarts_by_upgrade_strategy(minikube_patch):
    minikube = minikube_patch
    patch = minikube.one(PATCH, "ray-cluster-head-env").plain
    assert patch["metadata"]["name"] == USERS_CLUSTER
    assert patch["metadata"]["namespace"] == "ray-system"
    assert set(patch["spec"]) == {"headGroupSpec", "upgradeStrategy"}
    assert patch["spec"]["upgradeStrategy"] == {"type": "Recreate"}
    (container,) = patch["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    assert set(container) == {"name", "env"} and container["name"] == "ray-head"
    assert minikube.outputs["rayHeadRestart"].startswith("automatic")


def test_head_restart_none_leaves_upgrade_strategy_alone_and_prints_the_command(kubernetes_api):
    kubernetes_api.add(kubernetes_api.ray_clusters[("ray-system", USERS_CLUSTER)], "rc", "ml")
    result = run_stack("minikube", headRestart="none", rayClusterName="rc", rayClusterNamespace="ml", **PATCH_MODE)
    assert result.error is None, result.error
    assert "upgradeStrategy" not in result.one(PATCH, "ray-cluster-head-env").plain["spec"]
    assert result.outputs["rayHeadRestart"] == (
        "kubectl delete pod -n ml -l ray.io/cluster=rc,ray.io/node-type=head"
    )


def test_patch_waits_for_prometheus_and_grafana(minikube_patch):
    minikube = minikube_patch
    # The patch's component was registered with dependsOn on both Deployments; its child inherits it.
    urns = {r.name: r.urn for r in minikube.resources}
    component = minikube.one("ray-monitoring:kubernetes:RayClusterPatch", "ray-cluster")
    assert component.urn == urns["ray-cluster"]
    assert minikube.dependencies["ray-cluster-head-env"] >= {urns["prometheus-deployment"], urns["grafana-deployment"]}


def test_every_child_is_parented_to_its_component(minikube):
    components = {r.urn: r for r in minikube.resources if r.type.startswith("ray-monitoring:")}
    for resource in minikube.resources:
        if resource.type.startswith("ray-monitoring:") or resource.name in ("monitoring-namespace", "ray-namespace",
                                                                                    "kuberay-namespace"):
            continue
        assert resource.parent in components, f"{resource.type} {resource.name} is not inside a component"
        assert resource.name.startswith(components[resource.parent].name), (
            f"{resource.name} should be named after its component {components[resource.parent].name}"
        )


def test_rbac_is_namespaced_and_minimal(minikube):
    roles = minikube.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
    assert [r.plain["metadata"]["namespace"] for r in roles] == ["ray-system"]
    assert roles[0].plain["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    assert not minikube.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    binding = minikube.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
                           "prometheus-rbac-role-binding-ray-system").plain
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "prometheus", "namespace": "monitoring"}]
    assert binding["roleRef"]["name"] == roles[0].plain["metadata"]["name"]


def test_rbac_watches_each_listed_namespace_or_the_cluster():
    listed = run_stack("minikube", watchNamespaces=["ray-a", "ray-b"])
    assert listed.error is None, listed.error
    roles = listed.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
    assert sorted(r.plain["metadata"]["namespace"] for r in roles) == ["ray-a", "ray-b", "ray-system"]
    prometheus_yml = yaml.safe_load(listed.one(CONFIG_MAP, "prometheus-config").plain["data"]["prometheus.yml"])
    for job in prometheus_yml["scrape_configs"][1:]:
        assert job["kubernetes_sd_configs"][0]["namespaces"] == {"names": ["ray-system", "ray-a", "ray-b"]}

    cluster = run_stack("minikube", watchAllNamespaces="true")
    assert cluster.error is None, cluster.error
    assert not cluster.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
    (role,) = cluster.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    assert role.plain["rules"] == DISCOVERY_RULES
    assert len(cluster.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")) == 1
    prometheus_yml = yaml.safe_load(cluster.one(CONFIG_MAP, "prometheus-config").plain["data"]["prometheus.yml"])
    assert all("namespaces" not in job["kubernetes_sd_configs"][0] for job in prometheus_yml["scrape_configs"][1:])


def test_no_rbac_rule_uses_a_wildcard(minikube):
    for kind in ("Role", "ClusterRole"):
        for role in minikube.of_type(f"kubernetes:rbac.authorization.k8s.io/v1:{kind}"):
            for rule in role.plain["rules"]:
                for field in ("apiGroups", "resources", "verbs"):
                    assert "*" not in rule[field], f"{role.name} uses * in {field}"


def test_grafana_ini_embeds_anonymous_viewer_and_stays_home(minikube):
    ini = minikube.one(CONFIG_MAP, "grafana-config").plain["data"]["grafana.ini"]
    for line in ("allow_embedding = true", "org_role = Viewer", "reporting_enabled = false",
                 "check_for_updates = false", "admin_password = $__file{/etc/grafana/secrets/admin-password}"):
        assert line in ini.splitlines(), f"grafana.ini lacks {line!r}"
    assert "[auth.anonymous]\nenabled = true" in ini


def test_one_configmap_per_dashboard_under_one_mebibyte(minikube):
    maps = {r.name: r.plain for r in minikube.of_type(CONFIG_MAP) if r.name.startswith("grafana-dashboard-")}
    dashboards = load_dashboards(logs=True)  # the created cluster ships its logs
    assert len(maps) == len(dashboards) >= 8
    uids = set()
    for dashboard in dashboards:
        data = maps[f"grafana-dashboard-{dashboard.slug}"]["data"]
        assert list(data) == [dashboard.file_name]
        assert len(json.dumps(data).encode()) < 1024 * 1024
        uids.add(json.loads(data[dashboard.file_name])["uid"])
    assert {"rayDefaultDashboard", "rayDataDashboard", "rayServeDashboard", "rayTrainDashboard"} <= uids
    deployment = minikube.one(DEPLOYMENT, "grafana-deployment").plain
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "dashboards")
    assert len(volume["projected"]["sources"]) == len(dashboards)


def test_services_and_node_ports(minikube):
    grafana = minikube.one(SERVICE, "grafana-service").plain["spec"]
    assert grafana["type"] == "NodePort" and grafana["ports"][0]["nodePort"] == 30300
    assert minikube.one(SERVICE, "prometheus-service").plain["spec"]["type"] == "ClusterIP"
    ray = minikube.one(SERVICE, "ray-dashboard-service").plain
    assert ray["metadata"]["namespace"] == "ray-system"
    assert ray["spec"]["selector"] == {"ray.io/cluster": "ray-training-cluster", "ray.io/node-type": "head",
                                       "app.kubernetes.io/created-by": "kuberay-operator"}
    assert ray["spec"]["ports"][0]["nodePort"] == 30265


def test_code_defaults_expose_nothing_and_need_an_existing_namespace():
    from support.stacks import run as run_program

    result = run_program("eks", {"ray-monitoring:platform": "kubernetes",
                                 "ray-monitoring:rayClusterName": USERS_CLUSTER})  # one that exists
    assert result.error is None, result.error
    assert result.one(SERVICE, "grafana-service").plain["spec"]["type"] == "ClusterIP"
    assert not [r for r in result.of_type(SERVICE) if r.name == "ray-dashboard-service"]
    assert not result.of_type("kubernetes:core/v1:Namespace")


@pytest.mark.parametrize("name", ["prometheus-deployment", "grafana-deployment"])
def test_pods_are_hardened_with_probes_and_resources(minikube, name):
    pod = minikube.one(DEPLOYMENT, name).plain["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["readinessProbe"]["httpGet"]["path"] in ("/-/ready", "/api/health")
    assert container["livenessProbe"]["httpGet"]["path"] in ("/-/healthy", "/api/health")
    assert set(container["resources"]) == {"requests", "limits"}


def test_prometheus_settings_reach_the_deployment():
    result = run_stack("minikube", retentionTime="6h", retentionSize="2GB", prometheusMemoryLimit="1Gi",
                       prometheusStorage="persistentVolumeClaim", prometheusStorageSize="20Gi",
                       prometheusStorageClass="gp3")
    assert result.error is None, result.error
    pod = result.one(DEPLOYMENT, "prometheus-deployment").plain["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert "--storage.tsdb.retention.time=6h" in args and "--storage.tsdb.retention.size=2GB" in args
    assert pod["containers"][0]["resources"]["limits"]["memory"] == "1Gi"
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "prometheus-data"}} in pod["volumes"]
    claim = result.one("kubernetes:core/v1:PersistentVolumeClaim", "prometheus-data").plain
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "gp3"


def test_a_config_change_rolls_the_prometheus_pod(minikube):
    def annotation(result: Run) -> str:
        template = result.one(DEPLOYMENT, "prometheus-deployment").plain["spec"]["template"]
        return template["metadata"]["annotations"]["checksum/config"]

    changed = run_stack("minikube", scrapeInterval="30s")
    assert changed.error is None, changed.error
    assert annotation(changed) != annotation(minikube)
    assert annotation(run_stack("minikube")) == annotation(minikube), "checksum must be stable"


def test_selectors_exclude_the_version_label(minikube):
    for deployment in minikube.of_type(DEPLOYMENT):
        selector = deployment.plain["spec"]["selector"]["matchLabels"]
        assert "app.kubernetes.io/version" not in selector
        assert selector.items() <= deployment.plain["spec"]["template"]["metadata"]["labels"].items()
    for service in minikube.of_type(SERVICE):
        assert "app.kubernetes.io/part-of" in service.plain["metadata"]["labels"]


# --- from a bare minikube: KubeRay installed, the RayCluster created (the shipped stack) -----------

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"


def test_shipped_stack_installs_kuberay_and_creates_the_cluster_without_a_patch(minikube):
    assert [r.name for r in minikube.of_type(RELEASE)] == ["kuberay-release"]
    assert sorted(r.plain["metadata"]["name"] for r in minikube.of_type(NAMESPACE)) == [
        "kuberay-system", "monitoring", "ray-system"]
    assert [r.name for r in minikube.of_type(RAY_CLUSTER)] == ["ray-cluster-cluster"]
    assert minikube.of_type(PATCH) == [], "nothing to patch: the environment is in the spec"
    assert minikube.outputs["rayHeadRestart"].startswith("automatic")


def test_a_change_to_the_created_cluster_reaches_its_pods(minikube):
    """KubeRay v1.7.0 recreates a RayCluster's pods on a template change only when
    `spec.upgradeStrategy.type` is Recreate (ray-operator/controllers/ray/raycluster_controller.go,
    shouldRecreatePodsForUpgrade); otherwise a later pulumi up changing rayImage, a size or a RAY_*
    variable would update the object while the running pods kept the old values."""
    cluster = minikube.one(RAY_CLUSTER, "ray-cluster-cluster").plain
    assert cluster["spec"]["upgradeStrategy"] == {"type": "Recreate"}
    assert "recreates its pods" in minikube.outputs["rayHeadRestart"]


def test_created_cluster_carries_monitoring_from_the_start(minikube):
    cluster = minikube.one(RAY_CLUSTER, "ray-cluster-cluster").plain
    assert cluster["metadata"]["name"] == "ray-training-cluster" and cluster["metadata"]["namespace"] == "ray-system"
    spec = cluster["spec"]
    head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]  # Ray's; its log collector follows
    assert set(head_env(minikube)) == {"RAY_GRAFANA_HOST", "RAY_PROMETHEUS_HOST", "RAY_PROMETHEUS_NAME",
                                       "RAY_GRAFANA_IFRAME_HOST", "RAY_AUTH_MODE"}
    assert {p["name"]: p["containerPort"] for p in head["ports"]}.items() >= {
        "metrics": 8080, "as-metrics": 44217, "dash-metrics": 44227, "dashboard": 8265}.items()
    (group,) = spec["workerGroupSpecs"]
    worker = group["template"]["spec"]["containers"][0]
    assert {"name": "metrics", "containerPort": 8080} in worker["ports"]
    assert head["image"] == worker["image"] == "rayproject/ray:2.60.0" and spec["rayVersion"] == "2.60.0"
    assert spec["enableInTreeAutoscaling"] is True
    assert (group["minReplicas"], group["maxReplicas"], group["replicas"]) == (1, 3, 1)


def test_created_cluster_waits_for_the_operator_and_monitoring(minikube):
    urns = {r.name: r.urn for r in minikube.resources}
    needs = {urns[n] for n in ("kuberay-release", "prometheus-deployment", "grafana-deployment", "ray-namespace")}
    # Pulumi deletes in reverse dependency order: the RayCluster goes before the operator on destroy.
    assert minikube.dependencies["ray-cluster-cluster"] >= needs


def test_roles_in_the_created_namespace_wait_for_it(minikube):
    urns = {r.name: r.urn for r in minikube.resources}
    assert urns["ray-namespace"] in minikube.dependencies["prometheus-rbac-role-ray-system"]


def test_ray_cluster_settings_reach_the_spec():
    result = run_stack("minikube", rayImage="registry.example.com/ml/ray:2.59.1-py311-gpu", rayWorkerMinReplicas="0",
                       rayWorkerMaxReplicas="8", rayWorkerCpu="2", rayWorkerMemory="8Gi", createRayNamespace="false")
    assert result.error is None, result.error
    spec = result.one(RAY_CLUSTER, "ray-cluster-cluster").plain["spec"]
    (group,) = spec["workerGroupSpecs"]
    worker = group["template"]["spec"]["containers"][0]
    assert worker["image"] == "registry.example.com/ml/ray:2.59.1-py311-gpu" and spec["rayVersion"] == "2.59.1"
    assert (group["minReplicas"], group["maxReplicas"]) == (0, 8)
    assert worker["resources"]["limits"] == {"cpu": "2", "memory": "8Gi"} == worker["resources"]["requests"]
    assert group["rayStartParams"]["num-cpus"] == "2"
    assert sorted(r.plain["metadata"]["name"] for r in result.of_type(NAMESPACE)) == ["kuberay-system", "monitoring"]


def test_patch_mode_installs_nothing_of_kuberay(minikube_patch):
    assert minikube_patch.of_type(RELEASE) == [] and minikube_patch.of_type(RAY_CLUSTER) == []
    assert [r.name for r in minikube_patch.of_type(NAMESPACE)] == ["monitoring-namespace"]


def test_kind_stack_is_the_minikube_stack_with_smaller_requests():
    result = run_stack("kind")
    assert result.error is None, result.error
    spec = result.one(RAY_CLUSTER, "ray-cluster-cluster").plain["spec"]
    head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    worker = spec["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert head["resources"]["requests"] == {"cpu": "500m", "memory": "1536Mi"}
    assert worker["resources"]["requests"] == {"cpu": "250m", "memory": "1Gi"}
    assert result.of_type(RELEASE) and not result.of_type(PATCH)
    grafana = result.one(SERVICE, "grafana-service").plain["spec"]
    assert grafana["type"] == "ClusterIP", "the CI job reaches everything through port-forwards"


def node(name: str, arch: str, minikube: bool = True) -> dict:
    labels = {"kubernetes.io/arch": arch, **({"minikube.k8s.io/name": "minikube"} if minikube else {})}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


@pytest.mark.parametrize("architectures,image,selector", [
    (None, "rayproject/ray:2.60.0", None),  # nodes cannot be listed: the default stays
    (["amd64"], "rayproject/ray:2.60.0", None),
    (["arm64", "arm64"], "rayproject/ray:2.60.0-aarch64", None),
    (["amd64", "arm64"], "rayproject/ray:2.60.0", {"kubernetes.io/arch": "amd64"}),
])
def test_the_default_image_runs_on_the_nodes_cpu(kubernetes_api, architectures, image, selector):
    """rayproject/ray:<version> is built for amd64 only; arm64 nodes need its -aarch64 tag (Ray's image
    tags, docs.ray.io "Docker source images"). The kubelet labels every node with its architecture
    (kubernetes.io/arch, Kubernetes well-known labels)."""
    kubernetes_api.nodes = None if architectures is None else [node(f"n{i}", a) for i, a in enumerate(architectures)]
    try:
        # The kind stack opens no NodePort, which a cluster that hides its nodes would be refused.
        result = run_stack("minikube" if architectures else "kind")
    finally:
        kubernetes_api.nodes = MINIKUBE_NODES
    assert result.error is None, result.error
    spec = result.one(RAY_CLUSTER, "ray-cluster-cluster").plain["spec"]
    pods = [spec["headGroupSpec"]["template"]["spec"], spec["workerGroupSpecs"][0]["template"]["spec"]]
    assert {pod["containers"][0]["image"] for pod in pods} == {image}
    assert {str(pod.get("nodeSelector")) for pod in pods} == {str(selector)}


def test_an_image_chosen_by_the_user_is_kept_on_arm64(kubernetes_api):
    kubernetes_api.nodes = [node("n0", "arm64")]
    try:
        result = run_stack("minikube", rayImage="registry.example.com/ray:2.60.0-custom")
    finally:
        kubernetes_api.nodes = MINIKUBE_NODES
    head = result.one(RAY_CLUSTER, "ray-cluster-cluster").plain["spec"]["headGroupSpec"]["template"]["spec"]
    assert head["containers"][0]["image"] == "registry.example.com/ray:2.60.0-custom" and "nodeSelector" not in head


@pytest.mark.parametrize("image", ["rayproject/ray:latest", "registry.example.com/team/ray:prod",
                                   "rayproject/ray@sha256:" + "a" * 64])
def test_an_image_whose_tag_names_no_ray_version_needs_ray_version(image):
    refused = run_stack("minikube", rayImage=image)
    assert isinstance(refused.error, ConfigError) and refused.resources == []
    assert f"ray-monitoring:rayImage = '{image}'" in str(refused.error)
    assert "pulumi config set rayVersion" in str(refused.error)
    told = run_stack("minikube", rayImage=image, rayVersion="2.58.1")
    assert told.error is None, told.error
    assert told.outputs["rayDashboardsVersion"] == "2.58.1"
    aws = run_stack("aws", rayImage=image)
    assert isinstance(aws.error, ConfigError) and "rayImage" in str(aws.error)


def test_a_digest_keeps_the_version_its_tag_names():
    pinned = run_stack("minikube", rayImage="rayproject/ray:2.58.1@sha256:" + "b" * 64)
    assert pinned.error is None, pinned.error
    assert pinned.outputs["rayDashboardsVersion"] == "2.58.1"


@pytest.mark.parametrize("nodes, why", [
    ([node("ip-10-0-1-5", "amd64", minikube=False)], "not every node carries minikube.k8s.io/name"),
    (None, "your credentials may not list the cluster's nodes"),
], ids=["eks-node", "nodes-hidden"])
def test_the_ray_dashboard_node_port_is_refused_off_minikube(kubernetes_api, nodes, why):
    # Ray docs, "Ray Jobs API": the dashboard's port takes job submissions, which run any code; a
    # NodePort opens it on every node's address. minikube labels its nodes minikube.k8s.io/name.
    kubernetes_api.nodes = nodes
    try:
        result = run_stack("minikube")
    finally:
        kubernetes_api.nodes = MINIKUBE_NODES
    assert isinstance(result.error, ConfigError), result.error
    assert "rayDashboardNodePort = 30265" in str(result.error) and why in str(result.error)
    assert "rayDashboardPortForward" in str(result.error)
    assert result.resources == []


def test_the_created_cluster_runs_rays_token_authentication(minikube):
    # Ray docs, "Configure Ray clusters to use token authentication" (KubeRay): RAY_AUTH_MODE=token and
    # RAY_AUTH_TOKEN from a Secret on every Ray container (KubeRay's sample ray-cluster.auth-manual.yaml);
    # the autoscaler reaches the GCS too. KubeRay's probes call /api/*healthz, which Ray 2.60 leaves open.
    spec = minikube.one(RAY_CLUSTER, "ray-cluster-cluster").plain["spec"]
    secret = minikube.one("kubernetes:core/v1:Secret", "ray-cluster-auth-token-secret")
    # Auto-named (the mocks name it as Pulumi would, after the resource): a new token is a new Secret.
    assert "name" not in secret.plain["metadata"] and secret.plain["metadata"]["namespace"] == "ray-system"
    token_env = [{"name": "RAY_AUTH_MODE", "value": "token"},
                 {"name": "RAY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {
                     "name": "ray-cluster-auth-token-secret-generated", "key": "auth_token"}}}]
    containers = [spec["headGroupSpec"]["template"]["spec"]["containers"][0],
                  spec["workerGroupSpecs"][0]["template"]["spec"]["containers"][0], spec["autoscalerOptions"]]
    assert all(c["env"][-2:] == token_env for c in containers)
    assert is_secret(minikube.outputs["rayAuthToken"])
    assert len(reveal(minikube.outputs["rayAuthToken"])) == 48
    cluster = minikube.one(RAY_CLUSTER, "ray-cluster-cluster")
    assert secret.urn in cluster.dependencies, "the pods find their Secret"
    off = run_stack("minikube", rayTokenAuth="false")
    assert "rayAuthToken" not in off.outputs and not [
        e for e in off.one(RAY_CLUSTER, "ray-cluster-cluster").plain["spec"]["autoscalerOptions"].get("env", [])]
    patched = run_stack("minikube", **PATCH_MODE)
    assert "rayAuthToken" not in patched.outputs, "a patched cluster's authentication is its owner's"


def test_every_emptydir_is_asked_for_as_ephemeral_storage():
    # Kubernetes (Local ephemeral storage): an emptyDir on node disk counts against the pod's ephemeral-storage;
    # GKE Autopilot sets a 1Gi request (and limit) on a container that asks for none, and evicts past it.
    receivers = [{"name": "team", "type": "webhook", "url": "https://hooks.example.com/ray"}]
    result = run_stack("minikube", secrets={"alertReceivers": receivers})  # Alertmanager too
    assert result.error is None, result.error
    for deployment in result.of_type(DEPLOYMENT):
        pod = deployment.plain["spec"]["template"]["spec"]
        scratch = sum(bytes_of(v["emptyDir"]["sizeLimit"]) for v in pod["volumes"] if "emptyDir" in v)
        asked = sum(bytes_of(c["resources"]["requests"].get("ephemeral-storage", "0")) for c in pod["containers"])
        assert scratch > 0 and asked == scratch, deployment.name
    assert {d.name for d in result.of_type(DEPLOYMENT)} == {"prometheus-deployment", "grafana-deployment",
                                                            "alertmanager-deployment", "loki-deployment"}
