"""The minikube stack reads the RayCluster it patches before registering anything (stacks/preflight.py),
through the real Kubernetes client against a stand-in API server on 127.0.0.1."""

from __future__ import annotations

import pytest

from stacks.settings import ConfigError
from support.loopback import free_port
from support.stacks import PATCH_MODE, USERS_CLUSTER, refused, run_stack


def test_present_cluster_and_container_pass(minikube_patch, kubernetes_api):
    assert f"/apis/ray.io/v1/namespaces/ray-system/rayclusters/{USERS_CLUSTER}" in kubernetes_api.requests
    assert minikube_patch.one("kubernetes:ray.io/v1:RayClusterPatch", "ray-cluster-head-env")


def test_missing_cluster_is_refused_naming_the_keys_and_what_exists():
    message = refused(run_stack("minikube", **PATCH_MODE, rayClusterName="no-such-cluster"), "rayClusterName")
    assert "'no-such-cluster'" in message and "'ray-system' (rayClusterNamespace)" in message
    assert f"ray-system/{USERS_CLUSTER}" in message, "the clusters that do exist are listed"


def test_cluster_in_another_namespace_is_refused():
    message = refused(run_stack("minikube", **PATCH_MODE, rayClusterNamespace="ml"), "rayClusterName")
    assert "namespace 'ml'" in message


def test_wrong_head_container_is_refused_listing_the_real_ones(kubernetes_api):
    cluster = kubernetes_api.ray_clusters[("ray-system", USERS_CLUSTER)]
    two = {**cluster, "spec": {**cluster["spec"], "headGroupSpec": {**cluster["spec"]["headGroupSpec"], "template": {
        "spec": {"containers": [{"name": "ray-head", "image": "x"}, {"name": "log-shipper", "image": "y"}]}}}}}
    kubernetes_api.add(two, "two-containers", "ray-system")
    message = refused(run_stack("minikube", **PATCH_MODE, rayClusterName="two-containers", rayHeadContainer="head"),
                      "rayHeadContainer")
    assert "'head'" in message and "ray-head, log-shipper" in message
    assert "pulumi config set rayHeadContainer ray-head" in message


def test_unreachable_api_server_is_refused_not_a_traceback(tmp_path, monkeypatch):
    port = free_port()
    config = tmp_path / "config"
    config.write_text(f"""apiVersion: v1
kind: Config
current-context: down
clusters: [{{name: down, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
users: [{{name: down, user: {{}}}}]
contexts: [{{name: down, context: {{cluster: down, user: down}}}}]
""")
    monkeypatch.setenv("KUBECONFIG", str(config))
    for overrides in (PATCH_MODE, {}):  # patch mode, and the stack as shipped (rayDashboardNodePort set)
        message = cluster_refusal(run_stack("minikube", **overrides), "kubernetes:kubeconfig", str(config))
        assert f"points at http://127.0.0.1:{port}, where no Kubernetes API server answers" in message
        assert "is the cluster running?" in message and "minikube start" in message
        assert "rayClusterName" not in message and "rayDashboardNodePort" not in message, "no setting is blamed"


def cluster_refusal(result, key: str, value: str) -> str:
    """The ConfigError a run ended with, naming the provider's cluster setting `key` = `value` first."""
    assert isinstance(result.error, ConfigError), repr(result.error)
    assert result.resources == [], "nothing may be registered"
    (problem,) = result.error.problems
    assert problem.startswith(f"{key} = {value!r}: ") and "Fix: " in problem, problem
    return problem


def test_no_kubeconfig_at_all_says_so(tmp_path, monkeypatch):
    # minikube start writes ~/.kube/config; before it there is none (or KUBECONFIG names a missing file).
    missing = tmp_path / "no-such-config"
    monkeypatch.setenv("KUBECONFIG", str(missing))
    message = cluster_refusal(run_stack("minikube"), "kubernetes:kubeconfig", str(missing))
    assert "names no cluster to reach" in message and "kubectl get nodes" in message


def test_provider_context_is_the_one_read(kubernetes_api):
    """kubernetes:context names a context the kubeconfig lacks: the preflight uses it, so it fails."""
    message = cluster_refusal(run_stack("minikube", **PATCH_MODE, **{"kubernetes:context": "elsewhere"}),
                              "kubernetes:context", "elsewhere")
    assert "names no cluster to reach" in message


def test_config_errors_are_clean_run_errors():
    import pulumi

    assert issubclass(ConfigError, pulumi.RunError), "pulumi prints a RunError without a traceback"


@pytest.mark.parametrize("stack", ["aws", "minikube"])
def test_nothing_to_patch_reads_only_what_the_stack_makes(stack, kubernetes_api):
    """The aws stack reads nothing; the minikube stack, when it creates the RayCluster itself, reads only
    whether the API server answers, that RayCluster (the replicas Ray's autoscaler chose), KubeRay's RayCluster
    CRD (the fields it knows), the nodes' architectures (to choose the Ray image) and whether KubeRay's
    namespace is there (the stack creates it when it is not)."""
    before = len(kubernetes_api.requests)
    assert run_stack(stack).error is None
    assert kubernetes_api.requests[before:] == ([] if stack == "aws" else [
        "/version/", "/apis/ray.io/v1/namespaces/ray-system/rayclusters/ray-training-cluster",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rayclusters.ray.io", "/api/v1/nodes",
        "/api/v1/namespaces/kuberay-system"])


@pytest.mark.parametrize("owner,how", [("RayService", "label"), ("RayJob", "label"), ("RayService", "ownerReference")])
def test_a_raycluster_owned_by_a_rayservice_or_rayjob_is_refused(kubernetes_api, owner, how):
    """KubeRay labels the RayCluster it makes for a RayService or RayJob `ray.io/originated-from-crd: <kind>`
    (ray-operator/controllers/ray/utils/constant.go, RayOriginatedFromCRDLabelKey) and refuses
    `spec.upgradeStrategy` on such a cluster, after which it stops reconciling it
    (ray-operator/controllers/ray/utils/validation.go, ValidateRayClusterUpgradeOptions, and
    raycluster_controller.go, v1.7.0): the default headRestart would freeze it."""
    cluster = kubernetes_api.ray_clusters[("ray-system", USERS_CLUSTER)]
    metadata = {"name": "llm-serve-raycluster-x7k2p", "namespace": "ray-system"}
    if how == "label":
        metadata["labels"] = {"ray.io/originated-from-crd": owner, "ray.io/originated-from-cr-name": "llm-serve"}
    else:
        metadata["ownerReferences"] = [{"apiVersion": "ray.io/v1", "kind": owner, "name": "llm-serve", "uid": "1",
                                        "controller": True}]
    kubernetes_api.add({**cluster, "metadata": metadata}, "llm-serve-raycluster-x7k2p", "ray-system")
    message = refused(run_stack("minikube", **PATCH_MODE, rayClusterName="llm-serve-raycluster-x7k2p"),
                      "rayClusterName")
    assert f"belongs to {owner} llm-serve" in message
    assert ("'rayClusters[0].kind' RayService" in message) == (owner == "RayService")
    assert ("rayJobHeadEnv" in message) == (owner == "RayJob")


def test_a_raycluster_a_user_made_is_patched(kubernetes_api):
    cluster = kubernetes_api.ray_clusters[("ray-system", USERS_CLUSTER)]
    mine = {**cluster, "metadata": {"name": "mine", "namespace": "ray-system",
                                    "labels": {"ray.io/originated-from-crd": "RayCluster"}}}
    kubernetes_api.add(mine, "mine", "ray-system")
    result = run_stack("minikube", **PATCH_MODE, rayClusterName="mine")
    assert result.error is None, result.error
