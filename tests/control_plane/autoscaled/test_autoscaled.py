"""Scenario: Ray's autoscaler scaled the created RayCluster, then a `pulumi up` changes the workers' size.
Ray's KubeRay node provider JSON-patches the worker group's replicas; `workerGroupSpecs` is an atomic list in
KubeRay's CRD (x-kubernetes-list-type unset on it in ray.io_rayclusters.v1.7.0.yaml), so the whole list is then
the autoscaler's field manager's. The next `pulumi up` must succeed, change the template, and keep the count
the autoscaler chose."""

from __future__ import annotations

from support.autoscaler import scale_up
from support.control_plane import CLUSTER, NAMESPACE
from support.upstream import upstream_file

AUTOSCALER_MANAGER = "python-requests"  # the field manager of the requests library's User-Agent, Ray's client


def _workers(plane):
    (group,) = plane.read("ray.io/v1", "RayCluster", CLUSTER, NAMESPACE).spec.workerGroupSpecs
    return group


def test_the_worker_group_list_is_atomic_in_kuberays_crd():
    import yaml

    crd = yaml.safe_load(upstream_file("schemas/ray.io_rayclusters.v1.7.0.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    groups = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["workerGroupSpecs"]
    assert groups["type"] == "array" and "x-kubernetes-list-type" not in groups  # atomic: owned whole


def test_pulumi_up_after_the_autoscaler_scaled_succeeds_and_keeps_its_replicas(deployed, tmp_path):
    plane = deployed.cluster.plane
    before = _workers(plane).replicas
    scale_up(plane, NAMESPACE, CLUSTER, "workers", 1, tmp_path)
    scaled = plane.read("ray.io/v1", "RayCluster", CLUSTER, NAMESPACE)
    assert _workers(plane).replicas == before + 1
    owners = {entry.manager for entry in scaled.metadata.managedFields
              if "f:workerGroupSpecs" in str(entry.fieldsV1)}
    assert AUTOSCALER_MANAGER in owners, owners

    deployed.project.config.update({"rayWorkerCpu": "750m"})
    outcome = deployed.project.run("up")
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    group = _workers(plane)
    assert group.template.spec.containers[0].resources.limits.cpu == "750m"
    assert group.replicas == before + 1, "the autoscaler's count was reset"
