"""KubeRay's CRDs older than what the stack sets: refused before anything is created, naming the setting, the
version and the fix. Here an older CRD is v1.7.0's without the field; KubeRay 1.5.0's own CRD on the real API
server, which drops the field: tests/control_plane/old_crds."""

from __future__ import annotations

import pytest
import yaml

from stacks.kuberay_crds import CRD_FIX
from support.stacks import PATCH_MODE, refused, run_stack
from support.upstream import upstream_file

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rayclusters.ray.io"


def current_crd() -> dict:
    return yaml.safe_load(upstream_file("schemas/ray.io_rayclusters.v1.7.0.yaml").read_text())


def kuberay_1_5_crd() -> dict:
    """v1.7.0's RayCluster CRD without what 1.6.0 added to the stack's fields (upgradeStrategy)."""
    crd = current_crd()
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    del v1["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["upgradeStrategy"]
    return crd


@pytest.fixture
def installed_crd(kubernetes_api):
    def put(crd: dict) -> None:
        kubernetes_api.objects[CRD_PATH] = crd
    yield put
    kubernetes_api.objects.pop(CRD_PATH, None)


@pytest.mark.parametrize("mode,key", [({}, "createRayCluster"), (PATCH_MODE, "headRestart")])
def test_an_old_raycluster_crd_is_refused_naming_the_setting_and_the_fix(installed_crd, mode, key):
    installed_crd(kuberay_1_5_crd())
    message = refused(run_stack("minikube", **mode), key)
    assert "spec.upgradeStrategy (KubeRay 1.6.0+)" in message and CRD_FIX in message


def test_patch_mode_without_upgrade_strategy_passes_on_an_old_crd(installed_crd):
    installed_crd(kuberay_1_5_crd())
    assert run_stack("minikube", headRestart="none", **PATCH_MODE).error is None


def test_the_current_crd_passes(installed_crd):
    installed_crd(current_crd())
    assert run_stack("minikube").error is None
