"""The control-plane tier: a real API server (support/control_plane.py) with KubeRay's CRDs and sample
RayCluster where the minikube stack expects it, shared by the scenarios in this folder's subfolders."""

from __future__ import annotations

import pytest
import yaml

from support.control_plane import KUBERAY_CRDS, NAMESPACE, ControlPlane, sample_ray_cluster
from support.kubernetes_api import MINIKUBE_NODES
from support.live import Processes
from support.upstream import upstream_file


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
        plane.create(sample_ray_cluster())  # as a user applies it
        yield plane
    finally:
        processes.stop_all()
