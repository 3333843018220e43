"""Scenario: Prometheus on a PersistentVolumeClaim, then a `pulumi up` after the sizing model moved. On minikube's
`standard` StorageClass (no allowVolumeExpansion) the real API server refuses to grow a bound claim, and any
claim to shrink; the stack keeps the claim's size and says so, and refuses a size of the user's it cannot apply,
at preview. Last, back to emptyDir: the claim is deleted, as the later scenarios expect the stack from zero."""

from __future__ import annotations

import json

import pytest

from support.live import wait_until

CLASS, CLAIM, NAMESPACE = "standard", "prometheus-data", "monitoring"
PVC = {"prometheusStorage": "persistentVolumeClaim", "prometheusStorageClass": CLASS}


@pytest.fixture(scope="module")
def on_a_claim(deployed):
    """minikube's StorageClass as `minikube start` makes it, a volume for the claim to bind (no provisioner runs
    here), and the stack's Prometheus moved onto a claim by `pulumi up`."""
    plane = deployed.cluster.plane
    plane.create({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": CLASS},
                  "provisioner": "k8s.io/minikube-hostpath", "reclaimPolicy": "Delete",
                  "volumeBindingMode": "Immediate"})
    plane.create({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "prometheus-volume"},
                  "spec": {"capacity": {"storage": "100Gi"}, "accessModes": ["ReadWriteOnce"],
                           "storageClassName": CLASS, "persistentVolumeReclaimPolicy": "Retain",
                           "hostPath": {"path": "/tmp/hostpath-provisioner/prometheus"}}})
    deployed.project.config.update(PVC)
    outcome = deployed.project.run("up")
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    wait_until(lambda: plane.read("v1", "PersistentVolumeClaim", CLAIM, NAMESPACE).status.phase == "Bound", 60,
               f"claim {CLAIM} bound", interval=1)
    yield plane
    for key in (*PVC, "rayNodes", "prometheusStorageSize"):
        deployed.project.config.pop(key, None)
    outcome = deployed.project.run("up")
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    assert plane.find("v1", "PersistentVolumeClaim", CLAIM, NAMESPACE) is None


def _size(plane) -> str:
    return plane.read("v1", "PersistentVolumeClaim", CLAIM, NAMESPACE).spec.resources.requests["storage"]


def test_the_api_server_refuses_to_grow_a_claim_of_a_class_without_expansion_or_to_shrink_any(on_a_claim):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    api, size = client.CoreV1Api(on_a_claim.client()), _size(on_a_claim)
    for asked, status, says in (("90Gi", 403, "only dynamically provisioned pvc can be resized"),
                                ("1Mi", 422, "can not be less than")):
        with pytest.raises(ApiException) as refused:
            api.patch_namespaced_persistent_volume_claim(CLAIM, NAMESPACE,
                                                         {"spec": {"resources": {"requests": {"storage": asked}}}})
        message = json.loads(refused.value.body)["message"]
        assert refused.value.status == status and says in message, message
    assert _size(on_a_claim) == size


def test_pulumi_up_after_the_sizing_grew_keeps_the_claim_and_says_so(deployed, on_a_claim):
    size = _size(on_a_claim)
    deployed.project.config["rayNodes"] = 400
    outcome = deployed.project.run("up")
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    assert _size(on_a_claim) == size
    assert f"the claim {CLAIM} keeps its {size}" in outcome.log and "allowVolumeExpansion" in outcome.log


def test_a_smaller_size_of_the_users_is_refused_at_preview(deployed, on_a_claim):
    deployed.project.config["prometheusStorageSize"] = "1Gi"
    deployed.project.config["retentionSize"] = "512MB"
    try:
        outcome = deployed.project.run("preview")
    finally:
        deployed.project.config.pop("prometheusStorageSize")
        deployed.project.config.pop("retentionSize")
    assert "prometheusStorageSize" in outcome.error + outcome.log
    assert "refuses to shrink a claim" in outcome.error + outcome.log
