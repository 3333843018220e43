"""The discovery scenario's cluster: the minikube stack deployed from zero by the real engine on a control plane
of its own, a real Ray 2.60 node at each Ray pod's address, and the stack's Prometheus in-cluster as its
ServiceAccount (support/in_cluster.py). An xdist group of its own (tests/conftest.py), beside the live tier:
its Ray runs in network namespaces it made, and each tier stops only its own Ray processes."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.cluster_state import container, wait_for_pods
from support.cluster_state import env as container_env
from support.control_plane import CLUSTER, NAMESPACE, POD_CIDR, ControlPlane
from support.deployments import GIVEN_SECRETS, Cluster, start_cluster, up_with_kuberay
from support.in_cluster import in_cluster_prometheus, start_ray
from support.live import VENV_BIN, Processes, Prometheus
from support.pod_network import PodNetwork


@dataclass
class Discovery:
    cluster: Cluster
    network: PodNetwork
    prometheus: Prometheus  # the stack's, as deployed
    head: str  # the pods' IPs
    worker: str
    ray_env: dict[str, str]
    workdir: Path


def _stacks_prometheus(plane: ControlPlane, stage: Path) -> Prometheus:
    """The stack's Prometheus: its Deployment's ServiceAccount, its ConfigMap's files at its mount path."""
    deployment = plane.read("apps/v1", "Deployment", "prometheus", "monitoring").to_dict()
    pod = deployment["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
    config_map = plane.read("v1", "ConfigMap", volume["configMap"]["name"], "monitoring")
    files = {f"prometheus/{name}": text for name, text in config_map.data.items()}
    return in_cluster_prometheus(plane, stage, pod["serviceAccountName"], "monitoring", files,
                                 "prometheus/prometheus.yml")


def _ray_env(head_pod, ray_dir: Path) -> dict[str, str]:
    """The head container's own plain variables, Ray's token where RAY_AUTH_TOKEN_PATH points here."""
    token = ray_dir / "auth-token"
    token.write_text(GIVEN_SECRETS["rayAuthToken"])
    plain = {k: str(v) for k, v in container_env(container(head_pod.spec, "ray-head")).items()
             if isinstance(v, (str, int))}
    assert plain.get("RAY_AUTH_MODE") == "token", "the created cluster runs token authentication"
    return {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": str(ray_dir), "RAY_TMPDIR": str(ray_dir),
            "TMPDIR": str(ray_dir), **plain, "RAY_AUTH_TOKEN_PATH": str(token)}


@pytest.fixture(scope="package")
def discovery(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("discovery")
    processes = Processes()
    network = PodNetwork(POD_CIDR)
    ray_dir = Path(tempfile.mkdtemp(prefix="ray-disc-"))  # Ray's socket paths: at most 107 bytes
    try:
        cluster = start_cluster(workdir, processes)
        network.start()
        outcome = up_with_kuberay(cluster, cluster.project("discovery"))
        assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
        plane = cluster.plane
        (head_pod,) = wait_for_pods(plane, NAMESPACE, f"ray.io/cluster={CLUSTER},ray.io/node-type=head")
        (worker_pod,) = wait_for_pods(plane, NAMESPACE, f"ray.io/cluster={CLUSTER},ray.io/node-type=worker")
        head, worker = head_pod.status.podIP, worker_pod.status.podIP
        ray_env = _ray_env(head_pod, ray_dir)
        for address in (head, worker):
            network.add_pod(address)
        start_ray(network, head, ray_env)
        start_ray(network, worker, ray_env, head=head)
        prometheus = _stacks_prometheus(plane, workdir / "stack-prometheus")
        yield Discovery(cluster, network, prometheus, head, worker, ray_env, workdir)
        cluster.charts.stop()
    finally:
        network.close()
        processes.stop_all()
        shutil.rmtree(ray_dir, ignore_errors=True)
