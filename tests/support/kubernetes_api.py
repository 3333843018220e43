"""A stand-in for the Kubernetes API server on 127.0.0.1, for the stack's preflight reads (the
RayClusters and RayServices it patches, the nodes' architectures): the real `kubernetes` client talks
HTTP to it through a real kubeconfig. It answers only the reads the program makes, as the API server does (JSON objects,
Status bodies with 404)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import yaml

from support.loopback import LoopbackServer, QuietHandler

_ONE = re.compile(r"^/apis/ray\.io/v1/namespaces/([^/]+)/(rayclusters|rayservices)/([^/?]+)$")
_ALL = re.compile(r"^/apis/ray\.io/v1/(rayclusters|rayservices)$")
_NAMESPACE = re.compile(r"^/api/v1/namespaces/([^/]+)$")
PLURAL = {"RayCluster": "rayclusters", "RayService": "rayservices"}


# The node `minikube start` makes, with the labels minikube and the kubelet give it.
MINIKUBE_NODES = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "minikube", "labels": {
    "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "kubernetes.io/hostname": "minikube",
    "minikube.k8s.io/name": "minikube", "minikube.k8s.io/primary": "true"}}}]


class KubernetesApi:
    def __init__(self) -> None:
        self.ray_clusters: dict[tuple[str, str], dict] = {}  # (namespace, name) -> RayCluster
        self.ray_services: dict[tuple[str, str], dict] = {}  # (namespace, name) -> RayService
        # None: listing nodes is forbidden, as for a namespaced user.
        self.nodes: list[dict] | None = MINIKUBE_NODES
        self.namespaces: dict[str, dict] = {}  # name -> Namespace; others are missing (404)
        self.objects: dict[str, dict] = {}  # any other object by its API path (claims, storage classes)
        self.requests: list[str] = []
        api = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.split("?", 1)[0]
                api.requests.append(path)
                one, every, namespace = _ONE.match(path), _ALL.match(path), _NAMESPACE.match(path)
                if path == "/api/v1/nodes":
                    if api.nodes is None:
                        self.send_json(403, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                             "reason": "Forbidden", "code": 403,
                                             "message": 'nodes is forbidden: cannot list resource "nodes"'})
                    else:
                        self.send_json(200, {"apiVersion": "v1", "kind": "NodeList", "items": api.nodes})
                elif namespace and namespace.group(1) in api.namespaces:
                    self.send_json(200, api.namespaces[namespace.group(1)])
                elif path in api.objects:
                    self.send_json(200, api.objects[path])
                elif one and (one.group(1), one.group(3)) in api.store(one.group(2)):
                    self.send_json(200, api.store(one.group(2))[(one.group(1), one.group(3))])
                elif every:
                    self.send_json(200, {"apiVersion": "ray.io/v1", "kind": "List",
                                     "items": list(api.store(every.group(1)).values())})
                else:
                    self.send_json(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                         "reason": "NotFound",
                                     "message": f"rayclusters.ray.io {path.rsplit('/', 1)[-1]!r} not found",
                                     "code": 404})

        self._server = LoopbackServer(Handler)
        self.url = self._server.url

    def store(self, plural: str) -> dict[tuple[str, str], dict]:
        return self.ray_clusters if plural == "rayclusters" else self.ray_services

    def start(self) -> KubernetesApi:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def add(self, cluster: dict, name: str | None = None, namespace: str | None = None) -> dict:
        """Serve `cluster` (renamed and placed when told), as `kubectl apply` would have created it."""
        cluster = copy.deepcopy(cluster)
        metadata = cluster.setdefault("metadata", {})
        metadata["name"] = name or metadata["name"]
        metadata["namespace"] = namespace or metadata.get("namespace") or "default"
        self.store(PLURAL[cluster.get("kind", "RayCluster")])[(metadata["namespace"], metadata["name"])] = cluster
        return cluster

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": self.url}}],
            "users": [{"name": "test", "user": {}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        }))
        return path


def ray_clusters_in(path: Path, kind: str = "RayCluster") -> list[dict]:
    """The RayClusters (or RayServices) of a (possibly multi-document) manifest file."""
    return [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == kind]
