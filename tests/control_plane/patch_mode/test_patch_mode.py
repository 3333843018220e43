"""Scenario 4, patch mode: a team's RayCluster (KubeRay's sample, with an env of its own) and RayService
(KubeRay's sample), applied with kubectl as a team does, are patched by server-side apply, with `logs` on: the
user's containers and env stay, ours merge by name, and each head gains the log collector after the Ray
container; `pulumi destroy` removes our fields and leaves both whole. The RayService's environment and
collector land in rayClusterConfig, and the RayCluster and head Pod KubeRay's operator makes from it carry
them. A RayCluster a RayService owns is refused."""

from __future__ import annotations

import copy

import pytest
import yaml

from components.builders.logs.head_patch import SHIPPER_LABEL
from components.builders.logs.sidecar import COLLECTOR_CONTAINER, RAY_LOGS_VOLUME
from support.cluster_state import RAY_HEAD_VARIABLES, pods, wait_for_pods
from support.live import wait_until
from support.upstream import upstream_file

TEAM = "research"  # the users' namespace
TEAM_NODE = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "200Gi"}
USER_ENV = {"name": "TEAM_BUCKET", "value": "s3://research-checkpoints"}  # theirs, to keep


def sample(path: str) -> dict:
    document = copy.deepcopy(yaml.safe_load(upstream_file(path).read_text()))
    document["metadata"] = {"name": document["metadata"]["name"], "namespace": TEAM}
    return document


@pytest.fixture(scope="module")
def users(cluster, deployed):  # KubeRay is installed (by the stack deployed from zero)
    plane = cluster.plane
    # A team's clusters outgrow minikube's node (KubeRay's samples ask 3 CPUs and 10 GiB for their heads):
    # a bigger node joins, which kwok runs too.
    plane.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "team-node", "labels": {
        "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "kubernetes.io/hostname": "team-node"}},
        "status": {"capacity": TEAM_NODE, "allocatable": TEAM_NODE}})
    plane.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TEAM}})
    manifests = team_manifests()
    plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(manifests.values()))  # as the team does
    # As the API server keeps them (defaults filled in), to compare with after the patch and after destroy.
    return {kind: read(cluster, kind, document["metadata"]["name"]) for kind, document in manifests.items()}


def team_manifests() -> dict[str, dict]:
    """The team's manifests: KubeRay's samples in their namespace, the RayCluster's head with an env of its own."""
    ray_cluster = sample("fixtures/raycluster.sample.kuberay-v1.7.0.yaml")
    ray_cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] = [USER_ENV]
    return {"RayCluster": ray_cluster, "RayService": sample("fixtures/rayservice.sample.kuberay-v1.7.0.yaml")}


@pytest.fixture(scope="module")
def patch_stack(cluster, users):
    targets = [{"kind": kind, "name": document["metadata"]["name"], "namespace": TEAM}
               for kind, document in users.items()]
    project = cluster.project("patch", base=None, platform="kubernetes", namespace="team-monitoring",
                              createNamespace=True, rayClusters=targets, logs=True)
    return project


def head_of(document) -> dict:
    spec = document["spec"].get("rayClusterConfig", document["spec"])
    return spec["headGroupSpec"]["template"]["spec"]["containers"][0]


def read(cluster, kind: str, name: str):
    return cluster.plane.read("ray.io/v1", kind, name, TEAM).to_dict()


def test_patch_merges_our_environment_and_keeps_the_users(cluster, users, patch_stack):
    name = users["RayCluster"]["metadata"]["name"]
    # KubeRay's operator (v1.5.0 here) has started the team's head: without the upgrade-strategy hash that
    # KubeRay 1.6+ recreates heads by, so the stack must say the head needs a restart by hand.
    wait_for_pods(cluster.plane, TEAM, f"ray.io/cluster={name},ray.io/node-type=head")
    outcome = patch_stack.run("up")
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    command = f"kubectl delete pod -n {TEAM} -l ray.io/cluster={name},ray.io/node-type=head"
    assert f"RayCluster {TEAM}/{name}: {command}" in outcome.outputs["rayHeadRestart"]
    assert f"KubeRay will not restart the running head of {TEAM}/{name}" in outcome.log
    for kind, applied in users.items():
        head = head_of(read(cluster, kind, applied["metadata"]["name"]))
        names = [item["name"] for item in head["env"]]
        assert set(RAY_HEAD_VARIABLES) <= set(names), (kind, names)
        assert all(item in head["env"] for item in head_of(applied).get("env", [])), "the user's env stays"
        user_fields = {k: v for k, v in head_of(applied).items() if k not in ("env", "volumeMounts")}
        assert {k: head[k] for k in user_fields} == user_fields, f"{kind}: the user's container changed"
        assert_collector_beside_ray(template_of(read(cluster, kind, applied["metadata"]["name"])), kind)


def template_of(document) -> dict:
    return document["spec"].get("rayClusterConfig", document["spec"])["headGroupSpec"]["template"]


def assert_collector_beside_ray(template: dict, where: str) -> None:
    """The API server's merge of our apply: the Ray container first (KubeRay's), the collector next, Ray's
    /tmp/ray on the shared volume, our label on the pods."""
    containers = template["spec"]["containers"]
    assert [c["name"] for c in containers][:2] == ["ray-head", COLLECTOR_CONTAINER], where
    assert {"name": RAY_LOGS_VOLUME, "mountPath": "/tmp/ray"} in containers[0]["volumeMounts"], where
    assert RAY_LOGS_VOLUME in {v["name"] for v in template["spec"]["volumes"]}, where
    assert template["metadata"]["labels"][SHIPPER_LABEL] == "head", where


def test_a_second_up_changes_nothing_in_the_cluster(cluster, patch_stack):
    """The patch reads where each head keeps /tmp/ray as the cluster has it: after the first up that is the
    stack's own ray-logs volume, declared again, so both bodies are the same and the API server keeps both
    objects as they were (no new generation, so KubeRay restarts nothing).

    The engine still shows an update of the RayCluster's patch, whose head has an env entry of its own: the
    Kubernetes provider prunes the live object to the inputs' shape list entry by list entry, by position
    (pulumi-kubernetes provider/pkg/provider/util.go, pruneSlice, at the pinned commit), while the API server
    merged the env by name and kept the team's entry first. The RayService's head has none: no update."""
    before = {kind: read(cluster, kind, doc["metadata"]["name"]) for kind, doc in team_manifests().items()}
    again = patch_stack.run("up")
    assert again.error == "", f"{again.error}\n{again.log[-4000:]}"
    assert [(op, urn.rsplit("::", 1)[-1]) for op, urn, _ in again.steps] == [
        ("update", "raycluster-research-raycluster-kuberay-head-env")], again.steps
    for kind, old in before.items():
        now = read(cluster, kind, old["metadata"]["name"])
        assert now["metadata"]["generation"] == old["metadata"]["generation"], kind
        assert now["spec"] == old["spec"], kind


def ours_on_the_head(cluster, kind: str = "RayCluster") -> set[str]:
    name = team_manifests()[kind]["metadata"]["name"]
    return set(RAY_HEAD_VARIABLES) & {item["name"] for item in head_of(read(cluster, kind, name)).get("env", [])}


def test_the_teams_server_side_reapply_keeps_our_environment(cluster, patch_stack):
    # Server-side apply: a manager removes only fields it applied before (Kubernetes docs, "Server-Side
    # Apply"), and KubeRay's CRD merges the head's containers and their env by name. Moving from client-side
    # apply, the first server-side apply takes the fields over with --force-conflicts, as those docs say.
    cluster.plane.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=team-ci", "-f", "-",
                          stdin=yaml.safe_dump(team_manifests()["RayCluster"]))
    assert ours_on_the_head(cluster) == set(RAY_HEAD_VARIABLES)
    name = team_manifests()["RayCluster"]["metadata"]["name"]
    assert_collector_beside_ray(template_of(read(cluster, "RayCluster", name)), "after the team's re-apply")


def test_a_client_side_reapply_drops_it_and_pulumi_up_refresh_restores_it(cluster, patch_stack):
    # Client-side `kubectl apply` sends a custom resource a JSON merge patch (strategic merge is for built-in
    # kinds only), which replaces the containers list: our variables go, and Pulumi's state does not know.
    cluster.plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(team_manifests()["RayCluster"]))
    assert ours_on_the_head(cluster) == set()
    outcome = patch_stack.run("up", refresh=True)
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    assert ours_on_the_head(cluster) == set(RAY_HEAD_VARIABLES)
    name = team_manifests()["RayCluster"]["metadata"]["name"]
    assert_collector_beside_ray(template_of(read(cluster, "RayCluster", name)), "after the refresh")


def the_services_clusters(cluster) -> list:
    """The RayClusters KubeRay made for the team's RayService (labelled with its name: utils/constant.go)."""
    return cluster.plane.list("ray.io/v1", "RayCluster", TEAM, "ray.io/originated-from-cr-name=rayservice-sample")


def test_kuberay_waits_on_a_ready_heads_dashboard_before_it_prepares_a_new_cluster():
    # KubeRay v1.5.0, controllers/ray/rayservice_controller.go: reconcileServe skips a head Pod that is not
    # running and ready ("Skipping the update of Serve applications ..."), else asks its dashboard, and an
    # unanswered dashboard ends the reconcile ("failed to get Serve application statuses from the dashboard")
    # before shouldPrepareNewCluster runs. Under kwok a Ready head has no dashboard: the test keeps the
    # earlier cluster's head where a real one is while its container starts, not Ready.
    from support.go_tools import module_dir

    source = (module_dir("kuberay-operator") / "controllers/ray/rayservice_controller.go").read_text()
    serve = source[source.index("func (r *RayServiceReconciler) reconcileServe("):]
    assert serve.index("isHeadPodRunningAndReady") < serve.index("getAndCheckServeStatus(ctx, rayDashboardClient)")


def _heads_not_ready(cluster) -> None:
    """The RayService's clusters' head Pods reported not Ready, as a kubelet does while the head starts."""
    for ray_cluster in the_services_clusters(cluster):
        selector = f"ray.io/cluster={ray_cluster.metadata.name},ray.io/node-type=head"
        for pod in cluster.plane.list("v1", "Pod", TEAM, selector):
            cluster.plane.kubectl("patch", "pod", pod.metadata.name, "-n", TEAM, "--subresource=status",
                                  "--type=strategic", "-p", '{"status":{"conditions":[{"type":"Ready",'
                                  '"status":"False","reason":"ContainersNotReady"}]}}')


def test_the_operators_cluster_for_the_rayservice_carries_the_environment(cluster, patch_stack):
    cluster.start_operator()

    def made() -> list:
        return [item.to_dict() for item in the_services_clusters(cluster)
                if set(RAY_HEAD_VARIABLES) <= {e["name"] for e in head_of(item.to_dict()).get("env", [])}]

    wait_until(lambda: the_services_clusters(cluster), 120, "a RayCluster of rayservice-sample", interval=2)
    _heads_not_ready(cluster)
    wait_until(made, 120, "a RayCluster of rayservice-sample with the monitoring environment", interval=2)
    ray_cluster = made()[0]
    assert_collector_beside_ray(template_of(ray_cluster), "the RayService's new RayCluster")
    # KubeRay names it after the RayService with a suffix: the doctor's logsFrom matchers expect that.
    assert ray_cluster["metadata"]["name"].startswith("rayservice-sample-"), ray_cluster["metadata"]["name"]
    # KubeRay builds the head Pod from it (the API server validates the collector's downward-API env), with
    # our label, which Loki's NetworkPolicy admits.
    selector = f"ray.io/cluster={ray_cluster['metadata']['name']},ray.io/node-type=head,{SHIPPER_LABEL}=head"
    wait_until(lambda: pods(cluster.plane, TEAM, selector), 120, f"a head Pod {selector}", interval=2)
    (pod,) = pods(cluster.plane, TEAM, selector)
    assert [c.name for c in pod.spec.containers][:2] == ["ray-head", COLLECTOR_CONTAINER]


def test_a_raycluster_the_rayservice_owns_is_refused(cluster, patch_stack):
    owned = the_services_clusters(cluster)[0].metadata.name
    refused = cluster.project("patch-owned", base=None, platform="kubernetes", namespace="team-monitoring",
                              rayClusterName=owned, rayClusterNamespace=TEAM).run("up")
    assert "rayClusterName" in refused.error + refused.log and "belongs to RayService rayservice-sample" in \
        refused.error + refused.log
    assert [urn for _, urn, _ in refused.steps if "pulumi:pulumi:Stack" not in urn] == [], "nothing registered"


def test_destroy_removes_our_fields_and_leaves_the_users_clusters_whole(cluster, users, patch_stack):
    outcome = patch_stack.run("destroy")
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    for kind, applied in users.items():
        head = head_of(read(cluster, kind, applied["metadata"]["name"]))
        assert head.get("env", []) == head_of(applied).get("env", []), f"{kind}: env after destroy"
        assert head == {**head_of(applied), **({"env": head["env"]} if "env" in head else {})}
        template = template_of(read(cluster, kind, applied["metadata"]["name"]))
        assert template["spec"]["containers"] == template_of(applied)["spec"]["containers"], kind
        assert template["spec"].get("volumes") == template_of(applied)["spec"].get("volumes"), kind
        assert SHIPPER_LABEL not in (template.get("metadata") or {}).get("labels", {}), kind
