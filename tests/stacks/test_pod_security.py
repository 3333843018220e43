"""Pod Security on what the minikube stack creates, and no Kubernetes token where a Ray job's code runs.
The API server's enforcement itself is run in tests/control_plane/from_zero (a privileged pod refused)."""

from __future__ import annotations

import pytest

from components.builders.ray_cluster import AUTOSCALER_TOKEN_VOLUME, SERVICE_ACCOUNT_DIR
from components.kubernetes.namespace import POD_SECURITY_LABELS
from support.stacks import run_stack

NAMESPACE = "kubernetes:core/v1:Namespace"
RELEASE = "kubernetes:helm.sh/v3:Release"
RAY_CLUSTER = "kubernetes:ray.io/v1:RayCluster"


def test_pod_security_admission_reads_these_labels():
    # Kubernetes docs, "Enforce Pod Security Standards with Namespace Labels": the admission controller reads
    # pod-security.kubernetes.io/<MODE>: <LEVEL> with MODE enforce, audit or warn, LEVEL privileged, baseline
    # or restricted; without <MODE>-version the level is the cluster's own version's ("latest").
    assert POD_SECURITY_LABELS == {"pod-security.kubernetes.io/enforce": "restricted",
                                   "pod-security.kubernetes.io/audit": "restricted",
                                   "pod-security.kubernetes.io/warn": "restricted"}


def test_every_namespace_the_stack_creates_enforces_the_restricted_profile(minikube):
    created = {r.plain["metadata"]["name"]: r for r in minikube.of_type(NAMESPACE)}
    assert set(created) == {"monitoring", "ray-system", "kuberay-system"}
    for namespace in created.values():
        assert POD_SECURITY_LABELS.items() <= namespace.plain["metadata"]["labels"].items(), namespace.name
    # Helm must not create KubeRay's namespace (unlabelled) before the stack does.
    release = minikube.one(RELEASE, "kuberay-release")
    assert release.plain["createNamespace"] is False
    assert created["kuberay-system"].urn in release.dependencies


@pytest.fixture
def existing_kuberay_namespace(kubernetes_api):
    def put(labels: dict[str, str]) -> None:
        kubernetes_api.namespaces["kuberay-system"] = {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kuberay-system", "labels": labels}}
    yield put
    kubernetes_api.namespaces.pop("kuberay-system", None)


def test_a_kuberay_namespace_made_elsewhere_keeps_its_labels_and_the_user_is_told(existing_kuberay_namespace):
    # What Helm's --create-namespace (an earlier install) or the user made: the stack neither adopts nor labels it.
    existing_kuberay_namespace({"kubernetes.io/metadata.name": "kuberay-system"})
    result = run_stack("minikube")
    assert result.error is None, result.error
    assert "kuberay-system" not in {r.plain["metadata"]["name"] for r in result.of_type(NAMESPACE)}
    assert result.one(RELEASE, "kuberay-release").plain["createNamespace"] is True
    assert any("kuberayNamespace" in line and "kubectl label namespace kuberay-system "
               "pod-security.kubernetes.io/enforce=restricted" in line for line in result.logs), result.logs


def test_a_labelled_kuberay_namespace_made_elsewhere_gets_no_warning(existing_kuberay_namespace):
    existing_kuberay_namespace({"pod-security.kubernetes.io/enforce": "restricted"})
    result = run_stack("minikube")
    assert result.error is None, result.error
    assert not any("kuberayNamespace" in line for line in result.logs), result.logs


def test_the_kuberay_namespace_the_stack_made_stays_the_stacks_on_the_next_up(existing_kuberay_namespace, minikube):
    # The next `pulumi up` finds the namespace it created (its labels): it keeps managing it, nothing is replaced.
    existing_kuberay_namespace(minikube.one(NAMESPACE, "kuberay-namespace").plain["metadata"]["labels"])
    result = run_stack("minikube")
    assert result.error is None, result.error
    assert result.one(NAMESPACE, "kuberay-namespace").plain == minikube.one(NAMESPACE, "kuberay-namespace").plain


def test_rays_node_provider_reads_the_token_where_the_autoscaler_mount_puts_it():
    # Ray 2.60, ray/autoscaler/_private/kuberay/node_provider.py: the autoscaler reads its ServiceAccount's token
    # and CA from these paths (again every TOKEN_REFRESH_PERIOD), so the mount must put them exactly there.
    from ray.autoscaler._private.kuberay import node_provider

    assert node_provider.IN_CLUSTER_TOKEN_PATH == f"{SERVICE_ACCOUNT_DIR}/token"
    assert node_provider.IN_CLUSTER_CA_CERT_PATH == f"{SERVICE_ACCOUNT_DIR}/ca.crt"


def test_no_ray_container_holds_a_kubernetes_token_only_the_autoscaler_does(minikube):
    # KubeRay v1.7.0 (controllers/ray/common/pod.go) gives the head the autoscaler's ServiceAccount, which may
    # patch RayClusters and pods; the API server's ServiceAccount admission mounts its token in every container
    # unless the pod sets automountServiceAccountToken: false. KubeRay appends autoscalerOptions.volumeMounts to
    # the autoscaler container it adds, and leaves automountServiceAccountToken as the template has it.
    spec = minikube.one(RAY_CLUSTER, "ray-cluster-cluster").plain["spec"]
    head = spec["headGroupSpec"]["template"]["spec"]
    (workers,) = spec["workerGroupSpecs"]
    for pod in (head, workers["template"]["spec"]):
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            assert all(m["mountPath"] != SERVICE_ACCOUNT_DIR for m in container.get("volumeMounts", []))
    assert spec["autoscalerOptions"]["volumeMounts"] == [
        {"name": AUTOSCALER_TOKEN_VOLUME, "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True}]
    (volume,) = [v for v in head["volumes"] if "projected" in v]
    sources = volume["projected"]["sources"]
    assert volume["name"] == AUTOSCALER_TOKEN_VOLUME
    assert [next(iter(s)) for s in sources] == ["serviceAccountToken", "configMap", "downwardAPI"]
    assert sources[0]["serviceAccountToken"]["path"] == "token"
    assert sources[1]["configMap"] == {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}
