"""A later `pulumi up` and the volumes' claims: the size the sizing model recomputes never becomes one the
API server refuses (the real API server's refusals: tests/control_plane/volumes)."""

from __future__ import annotations

import pytest

from components.builders.sizing import VOLUME_FILL, bytes_of
from support.stacks import refused, run_stack

CLAIM = "kubernetes:core/v1:PersistentVolumeClaim"
CLAIM_PATH = "/api/v1/namespaces/monitoring/persistentvolumeclaims/{}"
CLASS_PATH = "/apis/storage.k8s.io/v1/storageclasses/{}"
PVC = {"prometheusStorage": "persistentVolumeClaim"}


@pytest.fixture
def live_claim(kubernetes_api):
    """The claim a first `pulumi up` made, as the API server serves it, and its StorageClass."""
    def put(name: str, size: str, storage_class: str = "standard", expandable: bool = False) -> None:
        kubernetes_api.objects[CLAIM_PATH.format(name)] = {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "monitoring"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}},
                     "storageClassName": storage_class}}
        kubernetes_api.objects[CLASS_PATH.format(storage_class)] = {
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": storage_class},
            "provisioner": "k8s.io/minikube-hostpath", "allowVolumeExpansion": expandable}
    yield put
    kubernetes_api.objects.clear()


def _claim(result, name: str = "prometheus-data") -> str:
    assert result.error is None, result.error
    return result.one(CLAIM, name).plain["spec"]["resources"]["requests"]["storage"]


def _retention_size(result) -> str:
    (container,) = result.one("kubernetes:apps/v1:Deployment", "prometheus-deployment").plain["spec"]["template"][
        "spec"]["containers"]
    return next(a for a in container["args"] if a.startswith("--storage.tsdb.retention.size=")).split("=", 1)[1]


def test_the_first_up_asks_for_the_sized_claim():
    first = run_stack("minikube", **PVC)
    assert bytes_of(_claim(first)) >= bytes_of(_retention_size(first)) / VOLUME_FILL


def test_a_sized_claim_that_cannot_grow_keeps_its_size_and_its_retention_fits(live_claim):
    live_claim("prometheus-data", "2Gi")  # what the first `pulumi up` made, on minikube's `standard`
    result = run_stack("minikube", rayNodes=200, **PVC)  # the model now asks for far more
    assert _claim(result) == "2Gi"
    assert bytes_of(_retention_size(result)) <= bytes_of("2Gi") * VOLUME_FILL
    assert any("prometheusStorageSize: the claim prometheus-data keeps its 2Gi" in line
               and "allowVolumeExpansion" in line for line in result.logs), result.logs


def test_a_sized_claim_grows_where_its_class_allows_expansion(live_claim):
    sized = run_stack("minikube", rayNodes=200, **PVC)  # no claim yet: what the model asks for
    live_claim("prometheus-data", "2Gi", "gp3", expandable=True)
    grown = run_stack("minikube", rayNodes=200, **PVC)
    assert _claim(grown) == _claim(sized) and bytes_of(_claim(grown)) > bytes_of("2Gi")
    assert _retention_size(grown) == _retention_size(sized)


def test_a_sized_claim_larger_than_the_model_now_asks_is_kept(live_claim):
    live_claim("prometheus-data", "500Gi", "gp3", expandable=True)
    result = run_stack("minikube", **PVC)
    assert _claim(result) == "500Gi"


@pytest.mark.parametrize("live,size,expandable,why", [("20Gi", "10Gi", True, "refuses to shrink a claim"),
                                                       ("10Gi", "20Gi", False, "does not allow expansion")])
def test_a_size_of_the_users_the_api_server_would_refuse_is_refused_with_the_fix(live_claim, live, size, expandable,
                                                                                 why):
    live_claim("prometheus-data", live, expandable=expandable)
    message = refused(run_stack("minikube", prometheusStorageSize=size, **PVC), "prometheusStorageSize")
    assert why in message and f"pulumi config set prometheusStorageSize {live}" in message


def test_grafanas_claim_is_held_to_the_same_rules(live_claim):
    live_claim("grafana-data", "5Gi")
    message = refused(run_stack("minikube", grafanaStorage="persistentVolumeClaim", grafanaStorageSize="2Gi"),
                      "grafanaStorageSize")
    assert "refuses to shrink" in message
