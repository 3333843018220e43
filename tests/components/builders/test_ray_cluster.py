"""The created RayCluster's spec, a pure builder: versions from tags, logical CPUs, ports, env."""

from __future__ import annotations

import pytest

from components.builders.ray_cluster import RayClusterShape, RayNodeSize, ray_cluster_spec, ray_version_of


@pytest.mark.parametrize("image,version", [
    ("rayproject/ray:2.60.0", "2.60.0"),
    ("rayproject/ray:2.59.1-py311-cpu", "2.59.1"),
    ("registry.example.com:5000/team/ray:2.60.0-gpu", "2.60.0"),
    ("registry.example.com:5000/team/ray", None),
    ("rayproject/ray:nightly", None),
    ("rayproject/ray:latest", None),
])
def test_ray_version_of_a_tag(image, version):
    assert ray_version_of(image) == version


SHAPE = RayClusterShape("my/ray:custom", RayNodeSize("1", "2Gi"), RayNodeSize("250m", "1Gi"), 0, 5)


def test_spec_shape():
    env = [{"name": "RAY_GRAFANA_HOST", "value": "http://g:3000"}]
    spec = ray_cluster_spec(SHAPE, "head", env)
    assert "rayVersion" not in spec, "no version is claimed for an image whose tag does not say it"
    (head,) = spec["headGroupSpec"]["template"]["spec"]["containers"]
    assert head["name"] == "head" and head["env"] == env
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    (group,) = spec["workerGroupSpecs"]
    assert group["rayStartParams"]["num-cpus"] == "1", "a fractional worker still runs tasks"
    assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (0, 0, 5)
    for container in (head, group["template"]["spec"]["containers"][0]):
        assert container["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["requests"] == container["resources"]["limits"]
