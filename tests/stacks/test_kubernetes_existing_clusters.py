"""Clusters users already run: several RayClusters and RayServices patched by one stack, and the
Prometheus Operator mode (PodMonitor, PrometheusRule, dashboards for kube-prometheus-stack's Grafana),
each strictly valid against the upstream CRDs (KubeRay v1.7.0, Prometheus Operator v0.93.0)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from components.builders import alert_rules
from components.builders.alert_rules import AlertSettings
from components.builders.dashboard_catalogue import load_dashboards
from stacks.settings import ConfigError
from support.crds import assert_strictly_valid, merge_list_map, v1_schema
from support.kubernetes_api import ray_clusters_in
from support.promql import DASHBOARD_RULES, RULES_FOUND
from support.stacks import OPERATOR_MODE as OPERATOR
from support.stacks import PATCH_MODE, USERS_CLUSTER, Run, run_stack
from support.tools import promtool
from support.upstream import upstream_file

PATCH = "kubernetes:ray.io/v1:RayClusterPatch"
SERVICE_PATCH = "kubernetes:ray.io/v1:RayServicePatch"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
TARGETS = [{"name": USERS_CLUSTER, "namespace": "ray-system"},
           {"name": "rayservice-sample", "namespace": "serve", "kind": "RayService"},
           {"name": "batch", "namespace": "batch", "kind": "RayCluster", "headContainer": "ray-head"}]


@pytest.fixture(scope="module")
def several(kubernetes_api) -> Run:
    (service,) = ray_clusters_in(upstream_file("fixtures/rayservice.sample.kuberay-v1.7.0.yaml"), "RayService")
    kubernetes_api.add(service, namespace="serve")
    kubernetes_api.add(kubernetes_api.ray_clusters[("ray-system", USERS_CLUSTER)], "batch", "batch")
    result = run_stack("minikube", rayClusters=TARGETS, **PATCH_MODE)
    assert result.error is None, result.error
    return result


def test_each_target_is_patched_by_its_kind(several):
    patches = {r.name: r.plain for r in several.resources if r.type in (PATCH, SERVICE_PATCH)}
    assert set(patches) == {"raycluster-ray-system-raycluster-kuberay-head-env",
                            "rayservice-serve-rayservice-sample-head-env", "raycluster-batch-batch-head-env"}
    service = patches["rayservice-serve-rayservice-sample-head-env"]
    assert service["kind"] == "RayService" and set(service["spec"]) == {"rayClusterConfig"}
    (container,) = service["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"]
    assert container["name"] == "ray-head" and {e["name"] for e in container["env"]} == {
        "RAY_GRAFANA_HOST", "RAY_PROMETHEUS_HOST", "RAY_PROMETHEUS_NAME", "RAY_GRAFANA_IFRAME_HOST"}
    assert "upgradeStrategy" not in service["spec"], "a RayService rolls out changes by itself"
    assert "rolls the change out" in several.outputs["rayHeadRestart"]


def test_every_patch_is_strictly_valid_against_its_crd(several):
    for resource in several.resources:
        if resource.type == PATCH:
            assert_strictly_valid(resource.plain, "schemas/ray.io_rayclusters.v1.7.0.yaml")
        elif resource.type == SERVICE_PATCH:
            assert_strictly_valid(resource.plain, "schemas/ray.io_rayservices.v1.7.0.yaml")


def test_the_rayservice_patch_merges_into_the_sample(several, kubernetes_api):
    sample = kubernetes_api.ray_services[("serve", "rayservice-sample")]
    patch = several.one(SERVICE_PATCH, "rayservice-serve-rayservice-sample-head-env").plain
    pod = sample["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]
    (head,) = [c for c in pod["containers"] if c["name"] == "ray-head"]
    (patched,) = patch["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"]
    merged_env = merge_list_map(head.get("env", []), patched["env"])
    assert {e["name"] for e in head.get("env", [])} <= {e["name"] for e in merged_env}
    schema = v1_schema("schemas/ray.io_rayservices.v1.7.0.yaml")
    containers = schema["properties"]["spec"]["properties"]["rayClusterConfig"]["properties"]["headGroupSpec"][
        "properties"]["template"]["properties"]["spec"]["properties"]["containers"]
    assert containers["x-kubernetes-list-type"] == "map" and containers["x-kubernetes-list-map-keys"] == ["name"]
    assert containers["items"]["properties"]["env"]["x-kubernetes-list-map-keys"] == ["name"]


def test_discovery_roles_and_network_peers_follow_the_targets(several):
    roles = sorted(r.plain["metadata"]["namespace"] for r in several.of_type(
        "kubernetes:rbac.authorization.k8s.io/v1:Role"))
    assert roles == ["batch", "ray-system", "serve"]
    config = yaml.safe_load(several.one("kubernetes:core/v1:ConfigMap", "prometheus-config").plain["data"][
        "prometheus.yml"])
    assert config["scrape_configs"][1]["kubernetes_sd_configs"][0]["namespaces"]["names"] == [
        "ray-system", "serve", "batch"]
    policy = several.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "prometheus-network-policy").plain
    peers = {p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
             for p in policy["spec"]["ingress"][0]["from"] if "namespaceSelector" in p}
    assert peers == {"ray-system", "serve", "batch"}


def test_preflight_covers_every_target(several):  # several: the RayService and batch cluster exist
    result = run_stack("minikube", rayClusters=[*TARGETS, {"name": "gone", "namespace": "serve",
                                                         "kind": "RayService"}], **PATCH_MODE)
    assert isinstance(result.error, ConfigError) and result.resources == []
    assert "no RayService 'gone' in namespace 'serve'" in str(result.error)
    assert "ray-monitoring:rayClusters = 'gone'" in str(result.error)


def test_rayjob_env_block_is_exported(several):
    env = {e["name"]: e["value"] for e in several.outputs["rayJobHeadEnv"]}
    assert env["RAY_PROMETHEUS_HOST"] == "http://prometheus.monitoring.svc:9090"


# --- Prometheus Operator mode ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def operator_mode() -> Run:
    result = run_stack("minikube", **OPERATOR)
    assert result.error is None, result.error
    return result


def test_operator_mode_has_none_of_our_prometheus_or_grafana(operator_mode, minikube):
    names = {r.name for r in operator_mode.resources}
    assert not {n for n in names if n.startswith(("prometheus-rbac", "prometheus-deployment", "grafana"))}
    assert not operator_mode.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
    assert {r.type for r in operator_mode.resources} >= {POD_MONITOR, RULE}
    assert not minikube.of_type(POD_MONITOR) and not minikube.of_type(RULE), "and the other mode has none of these"
    assert "grafanaAdminPassword" not in operator_mode.outputs


def test_the_head_points_at_the_users_services(operator_mode):
    cluster = operator_mode.one("kubernetes:ray.io/v1:RayCluster", "ray-cluster-cluster").plain
    (head,) = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in head["env"] if "value" in e}
    assert env["RAY_PROMETHEUS_HOST"] == OPERATOR["externalPrometheusUrl"]
    assert env["RAY_GRAFANA_HOST"] == OPERATOR["externalGrafanaUrl"]
    assert env["RAY_PROMETHEUS_NAME"] == "Prometheus", "kube-prometheus-stack's default datasource name"


def test_the_browser_is_never_sent_to_an_in_cluster_address(operator_mode):
    """`*.svc` names resolve only inside the cluster (Kubernetes DNS for Services and Pods): the head
    reaches the user's Grafana there, but a browser loading RAY_GRAFANA_IFRAME_HOST from it shows a blank
    chart. The iframe host is the port-forward address the outputs print, as for our own Grafana."""
    cluster = operator_mode.one("kubernetes:ray.io/v1:RayCluster", "ray-cluster-cluster").plain
    (head,) = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in head["env"] if "value" in e}
    assert env["RAY_GRAFANA_IFRAME_HOST"] == "http://localhost:3000" == operator_mode.outputs["grafanaUrl"]
    assert operator_mode.outputs["grafanaPortForward"] == (
        "kubectl port-forward -n monitoring svc/kube-prometheus-stack-grafana 3000:80")
    assert operator_mode.doctor["iframeHost"] == "http://localhost:3000"


def test_a_grafana_the_browser_reaches_is_embedded_as_given():
    public = run_stack("minikube", **{**OPERATOR, "externalGrafanaUrl": "https://grafana.example.com"})
    assert public.error is None, public.error
    assert public.outputs["grafanaUrl"] == "https://grafana.example.com"
    assert "grafanaPortForward" not in public.outputs
    chosen = run_stack("minikube", grafanaIframeHost="https://grafana.internal.example.com", **OPERATOR)
    assert chosen.outputs["grafanaUrl"] == "https://grafana.internal.example.com"


def test_pod_monitor_and_rule_are_strictly_valid_and_selected(operator_mode):
    monitor = operator_mode.one(POD_MONITOR, "prometheus-operator-pod-monitor").plain
    rule = operator_mode.one(RULE, "prometheus-operator-rules").plain
    assert_strictly_valid(monitor, "schemas/monitoring.coreos.com_podmonitors.v0.93.0.yaml")
    assert_strictly_valid(rule, "schemas/monitoring.coreos.com_prometheusrules.v0.93.0.yaml")
    for body in (monitor, rule):
        assert body["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["ray-system"]}
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"] * 3


def test_the_rule_passes_promtool_and_equals_our_rules(operator_mode, tmp_path):
    spec = operator_mode.one(RULE, "prometheus-operator-rules").plain["spec"]
    assert spec == alert_rules.rules(AlertSettings(), DASHBOARD_RULES)
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(spec))
    checked = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and RULES_FOUND in checked.stdout, checked.stdout + checked.stderr


def test_dashboards_carry_the_sidecar_label_and_folder(operator_mode):
    maps = [r.plain for r in operator_mode.of_type("kubernetes:core/v1:ConfigMap")
            if r.name.startswith("prometheus-operator-dashboard-")]
    assert len(maps) == len(load_dashboards())
    for config_map in maps:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["metadata"]["annotations"]["grafana_folder"] == "Ray"
    custom = run_stack("minikube", grafanaDashboardLabels={"team": "ml"}, **OPERATOR)
    labels = custom.one("kubernetes:core/v1:ConfigMap", "prometheus-operator-dashboard-ray-monitoring-overview").plain[
        "metadata"]["labels"]
    assert labels["team"] == "ml" and "grafana_dashboard" not in labels


def test_alert_receivers_are_refused_in_operator_mode():
    result = run_stack("minikube", secrets={"alertReceivers": [{"name": "x", "type": "webhook",
                                                                "url": "https://h.example.com/x"}]}, **OPERATOR)
    assert isinstance(result.error, ConfigError) and "your own Alertmanager" in str(result.error)


def test_agent_mode_puts_the_query_headers_beside_every_patched_head(several, kubernetes_api):
    """Agent mode over three targets in three namespaces: a headers Secret in each, the patches referencing
    it by secretKeyRef (valid against the RayCluster and RayService CRDs), the credential in no patch."""
    token = "query-token-for-every-head"
    result = run_stack("minikube", rayClusters=TARGETS, prometheusAgent="true",
                       grafanaQueryUrl="https://mimir.example.com/prometheus", **PATCH_MODE,
                       secrets={"remoteWrite": [{"url": "https://mimir.example.com/api/v1/push"}],
                                "grafanaQueryAuth": {"type": "bearer", "token": token}})
    assert result.error is None, result.error
    secrets = {r.plain["metadata"]["namespace"]: r for r in result.of_type("kubernetes:core/v1:Secret")
               if r.plain["metadata"].get("name") == "ray-prometheus-headers"}
    assert set(secrets) == {"ray-system", "serve", "batch"}
    for resource in result.resources:
        if resource.type in (PATCH, SERVICE_PATCH):
            assert token not in str(resource.plain)
            spec = resource.plain["spec"]
            spec = spec.get("rayClusterConfig", spec)
            (container,) = spec["headGroupSpec"]["template"]["spec"]["containers"]
            env = {e["name"]: e for e in container["env"]}
            assert env["RAY_PROMETHEUS_HOST"]["value"] == "https://mimir.example.com/prometheus"
            assert env["RAY_PROMETHEUS_HEADERS"]["valueFrom"]["secretKeyRef"]["name"] == "ray-prometheus-headers"
            schema = ("schemas/ray.io_rayservices.v1.7.0.yaml" if resource.type == SERVICE_PATCH
                      else "schemas/ray.io_rayclusters.v1.7.0.yaml")
            assert_strictly_valid(resource.plain, schema)


def test_several_clusters_outside_ray_system_touch_no_ray_system(kubernetes_api):
    """With rayClusters, the single-cluster keys play no part: no Role in rayClusterNamespace's default
    (ray-system, which such a cluster need not have: a RoleBinding there fails `pulumi up`), and the
    outputs and the doctor name the first listed target's head Service, `<name>-head-svc`, as KubeRay
    names it for a RayCluster and a RayService alike (ray-operator/controllers/ray/utils/util.go,
    GenerateHeadServiceName, v1.7.0)."""
    (service,) = ray_clusters_in(upstream_file("fixtures/rayservice.sample.kuberay-v1.7.0.yaml"), "RayService")
    kubernetes_api.add(kubernetes_api.ray_clusters[("ray-system", USERS_CLUSTER)], "training", "ml-team-a")
    kubernetes_api.add(service, "llm-serve", "serving")
    targets = [{"name": "training", "namespace": "ml-team-a"},
               {"name": "llm-serve", "namespace": "serving", "kind": "RayService"}]
    result = run_stack("minikube", rayClusters=targets, **PATCH_MODE)
    assert result.error is None, result.error
    namespaced = {r.plain["metadata"].get("namespace") for r in result.resources
                  if r.type.startswith("kubernetes:rbac.authorization.k8s.io/v1:Role")}
    assert namespaced == {"ml-team-a", "serving"}
    assert "ray-system" not in str([r.plain for r in result.resources])
    assert result.outputs["rayDashboardPortForward"] == (
        "kubectl port-forward -n ml-team-a svc/training-head-svc 8265:8265")
    assert result.doctor["services"]["rayDashboard"] == {
        "namespace": "ml-team-a", "service": "training-head-svc", "port": 8265}
    assert "ml-team-a" in result.doctor["restartCommand"]


def test_rayclusters_with_the_single_cluster_keys_is_refused():
    targets = [{"name": "training", "namespace": "ml-team-a"}]
    result = run_stack("minikube", rayClusters=targets, rayClusterName="training", **PATCH_MODE)
    assert isinstance(result.error, ConfigError) and result.resources == []
    assert "ray-monitoring:rayClusterName = 'training'" in str(result.error)


def test_operator_mode_names_the_jobs_as_our_own_configuration_does(operator_mode, tmp_path):
    """The Prometheus Operator labels a PodMonitor's targets `job="<namespace>/<PodMonitor>"` and appends the
    PodMonitor's relabelings after that rule (pkg/prometheus/promcfg.go, generatePodMonitorConfig, v0.93):
    without a job relabeling, RayScrapeTargetDown (`up{job=~"ray.*"}`) could never fire and the doctor's
    head-endpoint check would fail. The rules, evaluated by promtool on series labelled as the operator
    labels them, fire for a Ray target that is down."""
    from support.prometheus_operator import final_labels, operator_scrape_configs

    monitor = operator_mode.one(POD_MONITOR, "prometheus-operator-pod-monitor").plain
    meta = {"__meta_kubernetes_namespace": "ray-system", "__meta_kubernetes_pod_name": "ray-training-cluster-head-x",
            "__meta_kubernetes_pod_container_name": "ray-head", "__meta_kubernetes_pod_label_ray_io_cluster": "c1",
            "__meta_kubernetes_pod_label_ray_io_node_type": "head", "__meta_kubernetes_pod_node_name": "node-1",
            "__address__": "10.0.0.5:8080"}
    jobs = operator_scrape_configs("monitoring", "ray", monitor["spec"], "unused.json")
    labelled = [final_labels(job["relabel_configs"], meta) for job in jobs]
    assert [labels["job"] for labels in labelled] == ["ray", "ray-autoscaler", "ray-dashboard"]
    assert labelled[1]["endpoint"] == "autoscaler-metrics" and labelled[0]["namespace"] == "ray-system"
    assert final_labels(jobs[0]["relabel_configs"][:-1], meta)["job"] == "monitoring/ray", "the operator's own name"

    rule = operator_mode.one(RULE, "prometheus-operator-rules").plain
    rules_path = tmp_path / "rules.yml"
    rules_path.write_text(yaml.safe_dump(rule["spec"]))
    down = {**labelled[1], "instance": "10.0.0.5:44217"}
    inner = ",".join(f'{k}="{v}"' for k, v in down.items())
    tests = {"rule_files": [str(rules_path)], "evaluation_interval": "30s", "tests": [{
        "interval": "30s", "input_series": [{"series": f"up{{{inner}}}", "values": "0x10"}],
        "alert_rule_test": [{"eval_time": "5m", "alertname": "RayScrapeTargetDown",
                             "exp_alerts": [{"exp_labels": {**down, "severity": "warning"}, "exp_annotations": {
                                 "summary": "A Ray metrics endpoint cannot be scraped",
                                 "description": "ray-autoscaler target 10.0.0.5:44217 of cluster c1 has been down "
                                                "for 2m."}}]}]}]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    result = subprocess.run([promtool(), "test", "rules", str(tmp_path / "tests.yml")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
