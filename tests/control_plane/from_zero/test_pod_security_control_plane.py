"""Pod Security as the real API server enforces it on the stack deployed from zero, and the door a Ray job's
code would try: with the autoscaler's ServiceAccount (the one KubeRay gives the head), patch a RayCluster's
pod template so that KubeRay creates a privileged pod with the node's `/` mounted."""

from __future__ import annotations

import json

import pytest

from components.builders.ray_cluster import AUTOSCALER_TOKEN_VOLUME, SERVICE_ACCOUNT_DIR
from components.kubernetes.namespace import POD_SECURITY_LABELS
from support.cluster_state import wait_for_pods
from support.control_plane import CLUSTER, NAMESPACE
from support.live import wait_until

DECOY = "another-cluster"  # a second RayCluster in the namespace, as a team would run beside the stack's
AUTOSCALER = "autoscaler"  # the container KubeRay v1.5.0 adds to the head (controllers/ray/common/pod.go)
ROOT_OF_THE_NODE = {
    "name": "ray-worker", "image": "rayproject/ray:2.60.0",
    "securityContext": {"privileged": True, "runAsUser": 0},
    "volumeMounts": [{"name": "node", "mountPath": "/host"}],
}


def test_the_namespaces_the_stack_created_enforce_restricted(deployed):
    plane = deployed.cluster.plane
    for name in ("monitoring", NAMESPACE, "kuberay-system"):
        labels = plane.read("v1", "Namespace", name).metadata.labels
        assert POD_SECURITY_LABELS.items() <= dict(labels).items(), name
    # Every pod the stack made was admitted there: the operator's (its chart's securityContext), Ray's, ours.
    wait_for_pods(deployed.cluster.plane, "kuberay-system", "app.kubernetes.io/name=kuberay-operator")
    wait_for_pods(plane, NAMESPACE, f"ray.io/cluster={CLUSTER},ray.io/node-type=worker")


def test_the_api_server_refuses_a_privileged_pod_in_the_ray_namespace(deployed):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root-of-the-node"},
           "spec": {"containers": [ROOT_OF_THE_NODE], "volumes": [{"name": "node", "hostPath": {"path": "/"}}]}}
    with pytest.raises(ApiException) as refused:
        client.CoreV1Api(deployed.cluster.plane.client()).create_namespaced_pod(NAMESPACE, pod)
    message = json.loads(refused.value.body)["message"]
    assert refused.value.status == 403 and 'violates PodSecurity "restricted:latest"' in message, message
    assert 'restricted volume type "hostPath"' in message and "privileged" in message


def test_the_ray_container_holds_no_kubernetes_token_only_the_autoscaler(deployed):
    # After the API server's ServiceAccount admission, which mounts a token in every container unless told not to.
    (head,) = wait_for_pods(deployed.cluster.plane, NAMESPACE, f"ray.io/cluster={CLUSTER},ray.io/node-type=head")
    mounts = {c.name: {m.mountPath: m.name for m in c.volumeMounts or []} for c in head.spec.containers}
    assert SERVICE_ACCOUNT_DIR not in mounts["ray-head"], mounts["ray-head"]
    assert mounts[AUTOSCALER][SERVICE_ACCOUNT_DIR] == AUTOSCALER_TOKEN_VOLUME
    assert head.spec.serviceAccountName == CLUSTER  # the autoscaler's, made by KubeRay
    assert not any(v.name.startswith("kube-api-access-") for v in head.spec.volumes)


def _token_of(plane, service_account: str) -> str:
    """What the autoscaler container reads from its mount: a token for the head's ServiceAccount."""
    from kubernetes import client

    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[],
                                                                                  expiration_seconds=600))
    return client.CoreV1Api(plane.client()).create_namespaced_service_account_token(
        service_account, NAMESPACE, request).status.token


def _as(plane, token: str):
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = plane.url
    configuration.ssl_ca_cert = str(plane.workdir / "certs" / "apiserver.crt")
    configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(configuration)


def _decoy() -> dict:
    head = {"name": "ray-head", "image": "rayproject/ray:2.60.0", "securityContext": {
        "runAsNonRoot": True, "runAsUser": 1000, "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}
    worker = {**head, "name": "ray-worker"}
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": DECOY, "namespace": NAMESPACE},
            "spec": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [head]}}},
                     "workerGroupSpecs": [{"groupName": "workers", "replicas": 0, "minReplicas": 0, "maxReplicas": 2,
                                           "rayStartParams": {}, "template": {"spec": {"containers": [worker]}}}]}}


def test_a_job_with_the_autoscalers_token_gets_no_privileged_pod_from_kuberay(deployed):
    from kubernetes import client

    plane = deployed.cluster.plane
    plane.create(_decoy())
    try:
        job = client.CustomObjectsApi(_as(plane, _token_of(plane, CLUSTER)))
        # As Ray's autoscaler patches (a JSON patch of the worker group), with a template of the job's choosing.
        # Allowed (KubeRay's Role for the autoscaler: rayclusters get, patch), so the refusal below is Pod Security's.
        job.patch_namespaced_custom_object("ray.io", "v1", NAMESPACE, "rayclusters", DECOY, [
            {"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 1},
            {"op": "replace", "path": "/spec/workerGroupSpecs/0/template/spec", "value": {
                "containers": [ROOT_OF_THE_NODE], "volumes": [{"name": "node", "hostPath": {"path": "/"}}]}},
        ], _content_type="application/json-patch+json")

        def refusal() -> str:
            events = plane.list("v1", "Event", NAMESPACE)
            return next((e.message for e in events if e.involvedObject.name == DECOY and e.type == "Warning"
                         and "violates PodSecurity" in (e.message or "")), "")

        wait_until(refusal, 120, f"KubeRay's pod for {DECOY} refused by PodSecurity", interval=1)
        assert 'restricted:latest' in refusal() and "privileged" in refusal() and "hostPath" in refusal()
        workers = plane.list("v1", "Pod", NAMESPACE, f"ray.io/cluster={DECOY},ray.io/node-type=worker")
        assert workers == []
    finally:
        plane.dynamic().resources.get(api_version="ray.io/v1", kind="RayCluster").delete(name=DECOY,
                                                                                         namespace=NAMESPACE)
