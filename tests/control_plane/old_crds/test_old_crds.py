"""Scenario: KubeRay 1.5.0's CRDs in the cluster (installed by an older chart; Helm never upgrades CRDs). On a
real API server of its own: the server drops `upgradeStrategy` from a RayCluster without an error (structural
schema pruning), and the stack refuses before anything is created, naming the fix; after that fix (KubeRay's
current CRD replacing the old one) it passes."""

from __future__ import annotations

import copy

import pytest
import yaml

from support.control_plane import ControlPlane
from support.go_tools import module_dir
from support.kubernetes_api import MINIKUBE_NODES
from support.live import Processes
from support.stacks import refused, run_stack
from support.upstream import upstream_file


@pytest.fixture(scope="module")
def old_kuberay(tmp_path_factory):
    processes = Processes()
    try:
        plane = ControlPlane(tmp_path_factory.mktemp("old-crds"), processes).start()
        crd = yaml.safe_load((module_dir("kuberay-operator") / "config/crd/bases/ray.io_rayclusters.yaml").read_text())
        plane.create(crd)
        plane.wait_for_crd(crd["metadata"]["name"])
        plane.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ray-system"}})
        for node in MINIKUBE_NODES:  # the shipped stack's NodePort is for minikube only
            plane.create(node)
        yield plane
    finally:
        processes.stop_all()


def _against(plane, **overrides):
    return run_stack("minikube", **{"kubernetes:kubeconfig": str(plane.kubeconfig)}, **overrides)


def test_the_api_server_drops_fields_its_installed_crd_does_not_know(old_kuberay):
    sample = yaml.safe_load(upstream_file("fixtures/raycluster.sample.kuberay-v1.7.0.yaml").read_text())
    cluster = copy.deepcopy(sample)
    cluster["metadata"] = {"name": "pruned", "namespace": "ray-system"}
    cluster["spec"]["upgradeStrategy"] = {"type": "Recreate"}
    old_kuberay.create(cluster)
    stored = old_kuberay.read("ray.io/v1", "RayCluster", "pruned", "ray-system").to_dict()
    assert "upgradeStrategy" not in stored["spec"], "the 1.5.0 CRD kept a field it does not define"


def test_the_stack_refuses_an_old_crd_naming_the_fix(old_kuberay):
    message = refused(_against(old_kuberay), "createRayCluster")
    assert "spec.upgradeStrategy (KubeRay 1.6.0+)" in message and "kubectl replace -k" in message


def test_after_the_fix_the_stack_passes(old_kuberay):
    current = yaml.safe_load(upstream_file("schemas/ray.io_rayclusters.v1.7.0.yaml").read_text())
    live = old_kuberay.read("apiextensions.k8s.io/v1", "CustomResourceDefinition", "rayclusters.ray.io")
    current["metadata"]["resourceVersion"] = live.metadata.resourceVersion
    old_kuberay.kubectl("replace", "-f", "-", stdin=yaml.safe_dump(current))  # what `kubectl replace -k` does
    assert _against(old_kuberay).error is None
