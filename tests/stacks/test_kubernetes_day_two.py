"""The minikube stack's next `pulumi up` after the cluster moved on: what it reads from the live RayCluster it
created and keeps (the real autoscaler's patch and the real engine: tests/control_plane/autoscaled)."""

from __future__ import annotations

import copy

import pytest

from components.kubernetes.ray_cluster import FORCE_APPLY
from support.stacks import refused, run_stack

RAY_CLUSTER = "kubernetes:ray.io/v1:RayCluster"
NAME, NAMESPACE = "ray-training-cluster", "ray-system"  # where stacks/Pulumi.minikube.yaml creates it


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
