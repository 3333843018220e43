"""The RayCluster patch component alone, under mocks: a server-side-apply body of the head env only."""

from __future__ import annotations

from components.kubernetes.ray_cluster_patch import RayClusterPatch, RayClusterPatchArgs
from support.stacks import run

PATCH = "kubernetes:ray.io/v1:RayClusterPatch"


def test_ray_cluster_patch_alone():
    env = [{"name": "RAY_GRAFANA_HOST", "value": "http://g:1"}]
    result = run("unit", {}, lambda: RayClusterPatch("p", RayClusterPatchArgs("rc", "ns", "head", env, "none")))
    assert result.error is None, result.error
    patch = result.one(PATCH, "p-head-env").plain
    assert patch["apiVersion"] == "ray.io/v1" and patch["kind"] == "RayCluster"
    assert patch["metadata"] == {"name": "rc", "namespace": "ns", "annotations": {"pulumi.com/patchForce": "true"}}
    assert patch["spec"] == {"headGroupSpec": {"template": {"spec": {"containers": [
        {"name": "head", "env": [{"name": "RAY_GRAFANA_HOST", "value": "http://g:1"}]}]}}}}
