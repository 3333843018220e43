"""The control-plane tier. Two real clusters, shared by the scenarios in this folder's subfolders:
- `control_plane`: the API server alone, with KubeRay's CRDs and sample RayCluster where the minikube stack
  expects it (the preflight and the Prometheus Operator read objects; nothing runs pods).
- `cluster`: the API server with controllers, the scheduler and kwok running minikube's node, where the real
  Pulumi engine deploys the stack (`deployed`: from zero, as `pulumi up --stack minikube`).
The scenarios run in the order of SCENARIOS (one xdist group): the deployed stack is checked, scaled by Ray's
autoscaler, changed and, last, destroyed.
"""

from __future__ import annotations

import pytest
import yaml

from support.control_plane import KUBERAY_CRDS, NAMESPACE, ControlPlane, sample_ray_cluster
from support.deployments import Cluster, start_cluster, up_with_kuberay
from support.kubernetes_api import MINIKUBE_NODES
from support.live import Processes
from support.pulumi_engine import Outcome, Project
from support.stacks import USERS_CLUSTER
from support.upstream import upstream_file

SCENARIOS = ("from_zero", "idempotent", "autoscaled", "in_place", "volumes", "rotation", "patch_mode",
             "operator_mode", "bad_targets", "old_crds", "users_ci", "destroy")


def pytest_collection_modifyitems(items):
    def order(item) -> int:
        folders = [part for part in item.path.parts if part in SCENARIOS]
        return SCENARIOS.index(folders[-1]) if folders else -1

    items.sort(key=order)  # stable: other tests keep their order, ahead of the scenarios


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory):
    processes = Processes()
    try:
        plane = ControlPlane(tmp_path_factory.mktemp("control-plane"), processes).start()
        for path in KUBERAY_CRDS:
            crd = yaml.safe_load(upstream_file(path).read_text())
            plane.create(crd)
            plane.wait_for_crd(crd["metadata"]["name"])
        for node in MINIKUBE_NODES:  # the node `minikube start` registers, as an object: no kubelet runs
            plane.create(node)
        plane.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        plane.create(sample_ray_cluster(USERS_CLUSTER))  # as a user applies it
        yield plane
    finally:
        processes.stop_all()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    processes = Processes()
    try:
        started = start_cluster(tmp_path_factory.mktemp("cluster"), processes)
        yield started
        started.charts.stop()
    finally:
        processes.stop_all()


class Deployed:
    """The minikube stack after its first `pulumi up` on `cluster`."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.project: Project = cluster.project("minikube")
        self.first_up: Outcome = up_with_kuberay(cluster, self.project)
        self.destroyed = False


@pytest.fixture(scope="session")
def deployed(cluster):
    deployment = Deployed(cluster)
    yield deployment
    if not deployment.destroyed:  # the destroy scenario did not run (-k): leave nothing running
        deployment.project.run("destroy")
