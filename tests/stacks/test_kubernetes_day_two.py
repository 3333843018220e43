"""The minikube stack's next `pulumi up` after the cluster moved on: what it reads from the live RayCluster it
created and keeps (the real autoscaler's patch and the real engine: tests/control_plane/autoscaled)."""

from __future__ import annotations

import copy

import pytest

from components.kubernetes.ray_cluster import FORCE_APPLY
from support.stacks import PATCH_MODE, refused, run_stack

RAY_CLUSTER = "kubernetes:ray.io/v1:RayCluster"
NAME, NAMESPACE = "ray-training-cluster", "ray-system"  # where the minikube stack creates it


@pytest.fixture
def live_cluster(kubernetes_api, minikube):
    """The RayCluster the shipped stack created, as the API server serves it after Ray's autoscaler patched it."""
    def put(replicas: int, scale_strategy: dict | None = None, labels: dict | None = None) -> None:
        cluster = copy.deepcopy(minikube.one(RAY_CLUSTER, "ray-cluster-cluster").plain)
        cluster["spec"]["workerGroupSpecs"][0]["replicas"] = replicas
        if scale_strategy is not None:
            cluster["spec"]["workerGroupSpecs"][0]["scaleStrategy"] = scale_strategy
        if labels is not None:
            cluster["metadata"]["labels"] = labels
        kubernetes_api.add(cluster)
    yield put
    kubernetes_api.ray_clusters.pop((NAMESPACE, NAME), None)


def _workers(result) -> dict:
    assert result.error is None, result.error
    (group,) = result.one(RAY_CLUSTER, "ray-cluster-cluster").plain["spec"]["workerGroupSpecs"]
    return group


def test_the_first_up_asks_for_the_minimum_and_applies_with_force(minikube):
    cluster = minikube.one(RAY_CLUSTER, "ray-cluster-cluster").plain
    assert cluster["spec"]["workerGroupSpecs"][0]["replicas"] == 1 == cluster["spec"]["workerGroupSpecs"][0][
        "minReplicas"]
    assert "scaleStrategy" not in cluster["spec"]["workerGroupSpecs"][0]
    # pulumi-kubernetes (provider/pkg/await/await.go, patchForce): this annotation forces its server-side apply.
    assert cluster["metadata"]["annotations"] == FORCE_APPLY == {"pulumi.com/patchForce": "true"}


def test_the_replicas_and_scale_strategy_the_autoscaler_set_are_kept(live_cluster):
    live_cluster(3, {"workersToDelete": ["ray-training-cluster-workers-x7k2p"]})
    group = _workers(run_stack("minikube", rayWorkerCpu="750m"))
    assert group["replicas"] == 3
    assert group["scaleStrategy"] == {"workersToDelete": ["ray-training-cluster-workers-x7k2p"]}
    assert group["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "750m"


@pytest.mark.parametrize("bounds,expected", [({"rayWorkerMaxReplicas": 2}, 2), ({"rayWorkerMinReplicas": 3}, 3)])
def test_the_autoscalers_count_moves_into_new_bounds(live_cluster, bounds, expected):
    live_cluster(1 if "rayWorkerMinReplicas" in bounds else 3)
    group = _workers(run_stack("minikube", rayWorkerMaxReplicas=bounds.get("rayWorkerMaxReplicas", 4), **{
        k: v for k, v in bounds.items() if k != "rayWorkerMaxReplicas"}))
    assert group["replicas"] == expected


def test_a_same_named_raycluster_the_stack_did_not_create_is_refused(live_cluster):
    # Forced, the stack's apply would take over a cluster of the user's.
    live_cluster(1, labels={"app": "theirs"})
    message = refused(run_stack("minikube"), "rayClusterName")
    assert "already runs in ray-system and was not created by this stack" in message
    assert "createRayCluster false" in message


def _head_pod(annotations: dict) -> dict:
    return {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "raycluster-kuberay-head-x7k2p", "namespace": NAMESPACE, "annotations": annotations,
            "labels": {"ray.io/cluster": "raycluster-kuberay", "ray.io/node-type": "head"}}}]}


@pytest.fixture
def running_head(kubernetes_api):
    path = f"/api/v1/namespaces/{NAMESPACE}/pods"

    def put(annotations: dict) -> None:
        kubernetes_api.objects[path] = _head_pod(annotations)
    yield put
    kubernetes_api.objects.pop(path, None)


def test_a_patched_head_kuberay_will_not_recreate_gets_the_command_instead_of_automatic(running_head):
    # KubeRay v1.7.0, raycluster_controller.go shouldRecreatePodsForUpgrade: with upgradeStrategy Recreate it
    # recreates the pods only when the head pod's ray.io/upgrade-strategy-recreate-hash differs from the spec's
    # hash; an absent annotation (a head created before the cluster had Recreate, or by KubeRay 1.5) never does.
    running_head({"ray.io/kuberay-version": "v1.5.1"})
    result = run_stack("minikube", **PATCH_MODE)
    assert result.error is None, result.error
    command = "kubectl delete pod -n ray-system -l ray.io/cluster=raycluster-kuberay,ray.io/node-type=head"
    assert result.outputs["rayHeadRestart"] == command
    assert any("KubeRay will not restart the running head of ray-system/raycluster-kuberay" in line
               and command in line for line in result.logs), result.logs


def test_a_patched_head_with_kuberays_hash_restarts_by_itself(running_head):
    running_head({"ray.io/upgrade-strategy-recreate-hash": "d2f0c1", "ray.io/kuberay-version": "v1.7.0"})
    result = run_stack("minikube", **PATCH_MODE)
    assert result.error is None, result.error
    assert result.outputs["rayHeadRestart"].startswith("automatic")
