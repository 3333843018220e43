"""The RayCluster component alone, under mocks: a ray.io/v1 RayCluster built by the pure builder."""

from __future__ import annotations

from components.builders.ray_cluster import RayClusterShape, RayNodeSize, ray_cluster_spec
from components.kubernetes.ray_cluster import RayCluster, RayClusterArgs
from support.stacks import run

SHAPE = RayClusterShape("rayproject/ray:2.60.0", RayNodeSize("1", "2Gi"), RayNodeSize("500m", "1Gi"), 1, 2)
ENV = [{"name": "RAY_PROMETHEUS_HOST", "value": "http://p:9090"}]


def test_ray_cluster_alone():
    result = run("unit", {}, lambda: RayCluster("rc", RayClusterArgs("demo", "ml", SHAPE, "ray-head", ENV)))
    assert result.error is None, result.error
    cluster = result.one("kubernetes:ray.io/v1:RayCluster", "rc-cluster").plain
    assert cluster["apiVersion"] == "ray.io/v1" and cluster["kind"] == "RayCluster"
    assert cluster["metadata"]["name"] == "demo" and cluster["metadata"]["namespace"] == "ml"
    assert cluster["spec"] == ray_cluster_spec(SHAPE, "ray-head", ENV)
