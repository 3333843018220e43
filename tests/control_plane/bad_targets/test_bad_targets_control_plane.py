"""Scenario 7, bad targets: the minikube stack's preflight reads the real API server (kube-apiserver and
etcd built from their modules, KubeRay v1.7.0's CRDs, KubeRay's sample RayCluster applied as a user would);
a missing RayCluster, a wrong head container and a RayCluster a RayService owns are refused, naming the key,
the value and the fix, before anything is registered."""

from __future__ import annotations

import pytest

from support.control_plane import NAMESPACE, sample_ray_cluster
from support.stacks import PATCH_MODE, USERS_CLUSTER, refused, run_stack


@pytest.fixture(scope="module")
def against(control_plane):
    def run(**overrides):
        return run_stack("minikube", **PATCH_MODE, **{"kubernetes:kubeconfig": str(control_plane.kubeconfig)},
                         **overrides)
    return run


def test_the_users_cluster_as_applied_passes(against):
    result = against()
    assert result.error is None, result.error
    assert result.one("kubernetes:ray.io/v1:RayClusterPatch", "ray-cluster-head-env")


def test_a_missing_raycluster_is_refused_listing_what_exists(against):
    message = refused(against(rayClusterName="no-such-cluster"), "rayClusterName")
    assert "'no-such-cluster'" in message and f"{NAMESPACE}/{USERS_CLUSTER}" in message


def test_a_wrong_head_container_is_refused_naming_the_real_one(against):
    message = refused(against(rayHeadContainer="head"), "rayHeadContainer")
    assert "'head'" in message and "pulumi config set rayHeadContainer ray-head" in message


def test_a_raycluster_a_rayservice_made_is_refused(against, control_plane):
    # KubeRay labels the RayCluster it makes for a RayService (utils/constant.go, RayOriginatedFromCRDLabelKey).
    owned = sample_ray_cluster("rayservice-sample-raycluster-x")
    owned["metadata"]["labels"] = {"ray.io/originated-from-crd": "RayService",
                                   "ray.io/originated-from-cr-name": "rayservice-sample"}
    control_plane.create(owned)
    message = refused(against(rayClusterName="rayservice-sample-raycluster-x"), "rayClusterName")
    assert "belongs to RayService rayservice-sample" in message
