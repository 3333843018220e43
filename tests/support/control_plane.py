"""A real Kubernetes control plane on 127.0.0.1: etcd and kube-apiserver built from their Go modules
(support/go_tools.py), RBAC on, an admin token in the system:masters group, a kubeconfig for clients.

Alone, objects are stored, validated against their CRDs' schemas and served, as the API server does.
`start_nodes()` adds kube-controller-manager, kube-scheduler and kwok: Deployments make pods, the scheduler
places them on kwok's nodes (minikube's, at its documented size), and kwok marks them Running and Ready
with an IP, without running a container.
"""

from __future__ import annotations

import copy
import os
import secrets
import ssl
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from support.go_tools import build
from support.kubernetes_api import MINIKUBE_NODES
from support.live import LOOPBACK, Processes, wait_until
from support.loopback import free_port
from support.upstream import upstream_file

KUBERAY_CRDS = ("schemas/ray.io_rayclusters.v1.7.0.yaml", "schemas/ray.io_rayservices.v1.7.0.yaml")
SAMPLE_RAY_CLUSTER = "fixtures/raycluster.sample.kuberay-v1.7.0.yaml"
# minikube's default --disk-size is 20000mb; the kubelet keeps its hard eviction threshold (nodefs 10%) back.
MINIKUBE_ALLOCATABLE = {"cpu": "3250m", "memory": "7715Mi", "pods": "110", "ephemeral-storage": "17578125Ki"}
NAMESPACE, CLUSTER = "ray-system", "ray-training-cluster"  # where the minikube stack points
POD_CIDR = "10.244.0.0/16"  # the addresses kwok gives pods (support/pod_network.py gives them namespaces)


class _Loader(yaml.CSafeLoader):
    """YAML as the API server reads it: a bare `=` is the string "=" (PyYAML alone makes it the YAML 1.1
    `value` tag and refuses it; the Prometheus Operator's CRDs list it among relabeling actions' spellings)."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def condition_true(conditions: Any, kind: str) -> bool:
    """Whether a status' conditions hold `kind` with status "True" (Ready, Available, Established, ...)."""
    return any(c.type == kind and c.status == "True" for c in conditions or [])


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader with one constructor more)


def minikube_node() -> dict[str, Any]:
    """The node `minikube start --cpus 4 --memory 8g` registers, for kwok to run: 4 CPUs and about 7.7Gi
    allocatable, less what minikube's own control-plane pods request, which kwok does not run (750m, 170Mi:
    docs/kubernetes.md's table)."""
    node = copy.deepcopy(MINIKUBE_NODES[0])
    node["status"] = {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "19531250Ki"},
                      "allocatable": MINIKUBE_ALLOCATABLE}
    return node


def start_kuberay_operator(plane: ControlPlane, processes: Processes) -> Any:
    """KubeRay's operator (support/go_tools.py's version) as a local process in place of the pod its chart
    runs (kwok runs no container): it reconciles RayClusters and RayServices through the API server."""
    return processes.start("kuberay-operator", [
        str(build("kuberay-operator")), f"--metrics-addr={LOOPBACK}:{free_port()}",
        f"--health-probe-bind-address={LOOPBACK}:{free_port()}", "--enable-leader-election=false",
        "--log-stdout-encoder=console",
    ], plane.workdir / "kuberay-operator.log", env={
        **os.environ, "KUBECONFIG": str(plane.kubeconfig),
        # It calls the Ray dashboard of heads it finds ready (RayService), by their cluster DNS names: no Ray
        # runs here and nothing may leave the machine, so plain HTTP goes to a closed port on 127.0.0.1
        # (Go's default transport; the API server, on 127.0.0.1 over HTTPS, is never proxied).
        "HTTP_PROXY": f"http://{LOOPBACK}:{free_port()}", "NO_PROXY": ""})


def sample_ray_cluster(name: str) -> dict[str, Any]:
    """KubeRay's sample RayCluster, unchanged but for its name and namespace."""
    cluster = copy.deepcopy(yaml.safe_load(upstream_file(SAMPLE_RAY_CLUSTER).read_text()))
    cluster["metadata"] = {"name": name, "namespace": NAMESPACE}
    return cluster


class ControlPlane:
    def __init__(self, workdir: Path, processes: Processes):
        self.workdir, self.processes = workdir, processes
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.url = f"https://{LOOPBACK}:{self.port}"
        self.kubeconfig = workdir / "kubeconfig"
        self.service_account_key = workdir / "service-accounts.key"

    def start(self) -> ControlPlane:
        self.workdir.mkdir(parents=True, exist_ok=True)
        etcd_client, etcd_peer = free_port(), free_port()
        self.processes.start("etcd", [
            str(build("etcd")), "--name=default", f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls=http://{LOOPBACK}:{etcd_client}",
            f"--advertise-client-urls=http://{LOOPBACK}:{etcd_client}",
            f"--listen-peer-urls=http://{LOOPBACK}:{etcd_peer}",
            f"--initial-advertise-peer-urls=http://{LOOPBACK}:{etcd_peer}",
            f"--initial-cluster=default=http://{LOOPBACK}:{etcd_peer}",
        ], self.workdir / "etcd.log")
        key = self.service_account_key
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True, timeout=60)
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{self.token},admin,admin,"system:masters"\n')
        tokens.chmod(0o600)
        self.processes.start("kube-apiserver", [
            str(build("kube-apiserver")), f"--etcd-servers=http://{LOOPBACK}:{etcd_client}",
            f"--bind-address={LOOPBACK}", f"--advertise-address={LOOPBACK}", f"--secure-port={self.port}",
            f"--cert-dir={self.workdir / 'certs'}", f"--token-auth-file={tokens}", "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc", f"--service-account-key-file={key}",
            f"--service-account-signing-key-file={key}", "--service-cluster-ip-range=10.96.0.0/16",
            # As kubeadm (minikube, kind) and the cloud providers run it: privileged pods are the admission
            # plugins' to refuse (PodSecurity), not the API server's off-by-default flag.
            "--allow-privileged=true",
        ], self.workdir / "kube-apiserver.log")
        wait_until(lambda: self.get("/readyz") == "ok", 180,
                   f"kube-apiserver ready (see {self.workdir / 'kube-apiserver.log'})", interval=1)
        self.kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "control-plane",
            # The API server's certificate is self-signed in --cert-dir, for 127.0.0.1.
            "clusters": [{"name": "control-plane", "cluster": {"server": self.url,
                                                               "certificate-authority": str(self._ca())}}],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "control-plane", "context": {"cluster": "control-plane", "user": "admin"}}],
        }))
        self.kubeconfig.chmod(0o600)
        return self

    def start_nodes(self, nodes: list[dict[str, Any]]) -> ControlPlane:
        """Controllers, the scheduler and kwok managing `nodes` (registered here, as a kubelet would)."""

        def common() -> list[str]:
            return [f"--kubeconfig={self.kubeconfig}", "--leader-elect=false", f"--bind-address={LOOPBACK}",
                    f"--secure-port={free_port()}"]

        self.processes.start("kube-controller-manager", [
            str(build("kube-controller-manager")), *common(),
            f"--service-account-private-key-file={self.service_account_key}", f"--root-ca-file={self._ca()}",
            "--use-service-account-credentials=false", f"--cluster-cidr={POD_CIDR}",
            "--service-cluster-ip-range=10.96.0.0/16",
        ], self.workdir / "kube-controller-manager.log")
        self.processes.start("kube-scheduler", [str(build("kube-scheduler")), *common()],
                             self.workdir / "kube-scheduler.log")
        self.processes.start("kwok", [
            str(build("kwok")), f"--kubeconfig={self.kubeconfig}", "--manage-all-nodes=true",
            f"--cidr={POD_CIDR}", f"--node-ip={LOOPBACK}", f"--server-address={LOOPBACK}:{free_port()}",
            # Heartbeats by node Lease, as a kubelet's: kwok's node status patches alone come every ~55 s, past
            # the node lifecycle controller's 50 s grace, which then marks the node NotReady and every pod on it
            # Ready=False (kwok does not mark them Ready again).
            "--node-lease-duration-seconds=40",
        ], self.workdir / "kwok.log")
        for node in nodes:
            self.create(node)
        names = {node["metadata"]["name"] for node in nodes}
        wait_until(lambda: names <= self._ready_nodes(), 120, f"kwok's nodes {sorted(names)} Ready", interval=1)
        return self

    def _ready_nodes(self) -> set[str]:
        return {node.metadata.name for node in self.list("v1", "Node")
                if condition_true(node.status.conditions, "Ready")}

    def _ca(self) -> Path:
        return self.workdir / "certs" / "apiserver.crt"

    def get(self, path: str) -> str:
        context = ssl.create_default_context(cafile=str(self._ca())) if self._ca().exists() else \
            ssl._create_unverified_context()  # noqa: S323 (before the certificate exists: readiness only)
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=5, context=context) as reply:  # noqa: S310 (loopback)
            return reply.read().decode()

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        """kubectl (built from k8s.io/kubernetes at the API server's version) against this control plane."""
        result = subprocess.run([str(build("kubectl")), f"--kubeconfig={self.kubeconfig}", *args], input=stdin,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def client(self) -> Any:
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))  # type: ignore[no-untyped-call]

    def dynamic(self) -> Any:
        from kubernetes.dynamic import DynamicClient

        return DynamicClient(self.client())

    def create(self, document: dict[str, Any], namespace: str | None = None) -> Any:
        """Create one object of any kind the API server serves, as `kubectl create` would."""
        resource = self.dynamic().resources.get(api_version=document["apiVersion"], kind=document["kind"])
        namespace = namespace or document.get("metadata", {}).get("namespace")
        return resource.create(body=document, namespace=namespace) if resource.namespaced else \
            resource.create(body=document)

    def read(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        resource = self.dynamic().resources.get(api_version=api_version, kind=kind)
        return resource.get(name=name, namespace=namespace)

    def find(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        """read(), or None where the object does not exist."""
        from kubernetes.dynamic.exceptions import NotFoundError

        try:
            return self.read(api_version, kind, name, namespace)
        except NotFoundError:
            return None

    def list(self, api_version: str, kind: str, namespace: str | None = None, selector: str | None = None) -> list:
        """The objects of a kind (in `namespace`, else everywhere), optionally by label selector."""
        resource = self.dynamic().resources.get(api_version=api_version, kind=kind)
        return list(resource.get(namespace=namespace, label_selector=selector).items)

    def crd_established(self, name: str) -> bool:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            crd = client.ApiextensionsV1Api(self.client()).read_custom_resource_definition(name)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return condition_true(crd.status.conditions, "Established")

    def wait_for_crd(self, name: str) -> None:
        wait_until(lambda: self.crd_established(name), 60, f"CRD {name} established", interval=0.5)
