"""Scenario 6, destroy: `pulumi destroy` of the stack deployed from zero removes everything it created (its
namespaces with what is in them, KubeRay's included, the RayCluster and its pods, the KubeRay release);
KubeRay's CRDs (Helm never deletes a chart's crds/) and objects the stack never created stay."""

from __future__ import annotations

from support.control_plane import CLUSTER, NAMESPACE
from support.pulumi_engine import PROJECT

USERS = "users-own"


def exists(plane, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
    return plane.find(api_version, kind, name, namespace) is not None


def test_destroy_removes_what_the_stack_made_and_nothing_else(deployed):
    plane = deployed.cluster.plane
    plane.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": USERS}})
    plane.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "notes", "namespace": USERS},
                  "data": {"owner": "a user"}})
    outcome = deployed.project.run("destroy")
    deployed.destroyed = True
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    assert set(outcome.changes) == {"delete"}, outcome.changes
    assert outcome.changes["delete"] == deployed.first_up.changes["create"]
    for namespace in ("monitoring", NAMESPACE):
        assert not exists(plane, "v1", "Namespace", namespace), f"namespace {namespace} left behind"
    assert not exists(plane, "ray.io/v1", "RayCluster", CLUSTER, NAMESPACE)
    assert not exists(plane, "apps/v1", "Deployment", "kuberay-operator", "kuberay-system")
    leftovers = [item.metadata.name for item in plane.list("v1", "Pod", selector=f"ray.io/cluster={CLUSTER}")]
    assert leftovers == []
    for crd in ("rayclusters.ray.io", "rayservices.ray.io", "rayjobs.ray.io"):
        assert plane.crd_established(crd), f"CRD {crd} deleted"
    assert plane.read("v1", "ConfigMap", "notes", USERS).to_dict()["data"] == {"owner": "a user"}
    # The stack created KubeRay's namespace (labelled for Pod Security), so it goes too, after the release.
    assert not exists(plane, "v1", "Namespace", "kuberay-system"), "namespace kuberay-system left behind"
    managed = [item.metadata.name for item in plane.list("v1", "Namespace")
               if (item.metadata.labels or {}).get("app.kubernetes.io/part-of") == PROJECT]
    assert managed == []
