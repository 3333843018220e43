"""The minikube stack's scrape jobs, live: the live tier runs no API server, so only the
discovery block is replaced by file_sd groups carrying the labels Kubernetes discovery would give,
for pods that point at the live Ray endpoints."""

from __future__ import annotations

import json

import pytest
import yaml

from support.kubernetes_sd import kuberay_pods, pod
from support.live import LOOPBACK, Processes, Prometheus, wait_until
from support.stacks import run_stack

PODS = [
    pod("raycluster-kuberay-head-x", "ray-system", f"{LOOPBACK}:8080", "metrics", node_type="head"),
    pod("raycluster-kuberay-head-x", "ray-system", f"{LOOPBACK}:8265", "dashboard", node_type="head"),
    pod("raycluster-kuberay-worker-y", "ray-system", f"{LOOPBACK}:8081", "metrics", node_type="worker"),
    pod("not-ray", "ray-system", f"{LOOPBACK}:9100", "metrics"),
    pod("other-cluster-head", "elsewhere", f"{LOOPBACK}:8080", "metrics", node_type="head", cluster="other"),
    pod("pending-worker", "ray-system", f"{LOOPBACK}:8082", "metrics", phase="Pending", node_type="worker"),
]


@pytest.fixture(scope="module")
def kubernetes_prometheus(live):
    stack = run_stack("minikube")
    assert stack.error is None, stack.error
    data = stack.one("kubernetes:core/v1:ConfigMap", "prometheus-config").plain["data"]
    config = yaml.safe_load(data["prometheus.yml"])
    workdir = live.workdir / "kubernetes"
    workdir.mkdir()
    sd_file = workdir / "pods.json"
    sd_file.write_text(json.dumps(PODS))
    for job in config["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["file_sd_configs"] = [{"files": [str(sd_file)], "refresh_interval": "1s"}]
    config.pop("rule_files")
    processes = Processes()
    prometheus = Prometheus(processes, workdir / "prometheus", config, port=9091)
    prometheus.sd_file = sd_file  # tests may swap the pods it discovers, and put PODS back
    try:
        prometheus.start()
        yield prometheus
    finally:
        processes.stop_all()


def test_only_running_ray_pods_in_watched_namespaces_are_kept(kubernetes_prometheus):
    expected = sorted([
        ("ray", f"{LOOPBACK}:8080"), ("ray", f"{LOOPBACK}:8081"),
        ("ray-autoscaler", f"{LOOPBACK}:44217"), ("ray-dashboard", f"{LOOPBACK}:44227"),
        ("prometheus", "localhost:9090"),
    ])

    def kept() -> list:  # a list: a pod from another namespace on the same address must not hide
        return sorted((t["labels"]["job"], t["labels"]["instance"]) for t in kubernetes_prometheus.targets())

    wait_until(lambda: kept() == expected, 30, f"exactly {expected}")
    wait_until(lambda: all(t["health"] == "up" for t in kubernetes_prometheus.targets()), 30, "all kept targets up")


def test_kept_targets_carry_kubernetes_labels(kubernetes_prometheus):
    by_address = {t["labels"]["instance"]: t["labels"] for t in kubernetes_prometheus.targets()
                  if t["labels"]["job"] != "prometheus"}
    head = by_address[f"{LOOPBACK}:8080"]
    assert head["ray_io_cluster"] == "raycluster-kuberay" and head["namespace"] == "ray-system"
    assert head["pod"] == "raycluster-kuberay-head-x" and head["node"] == "minikube"
    assert head["ray_node_type"] == "head"
    assert by_address[f"{LOOPBACK}:8081"]["pod"] == "raycluster-kuberay-worker-y"
    assert by_address[f"{LOOPBACK}:44217"]["pod"] == "raycluster-kuberay-head-x"
    # The labels reach the series Ray's dashboards filter on.
    wait_until(lambda: kubernetes_prometheus.query('ray_node_cpu_utilization{ray_io_cluster="raycluster-kuberay"}'),
               30, "Ray series with ray_io_cluster from the pod label")


def test_the_created_clusters_pods_are_kept_with_their_cluster_label(kubernetes_prometheus):
    """The RayCluster the minikube stack creates (its preset), as KubeRay runs it."""
    stack = run_stack("minikube")
    assert stack.error is None, stack.error
    cluster = stack.one("kubernetes:ray.io/v1:RayCluster", "ray-cluster-cluster").plain
    targets = kuberay_pods(cluster)
    assert len(targets) == 9, "head: 6 declared ports, worker: 1, and each pod's log collector without a port"
    expected = sorted([
        ("ray", f"{LOOPBACK}:8080"), ("ray", f"{LOOPBACK}:8081"),
        ("ray-autoscaler", f"{LOOPBACK}:44217"), ("ray-dashboard", f"{LOOPBACK}:44227"),
        ("prometheus", "localhost:9090"),
    ])

    def kept() -> list:
        return sorted((t["labels"]["job"], t["labels"]["instance"]) for t in kubernetes_prometheus.targets())

    def from_created_cluster() -> bool:
        ray = [t for t in kubernetes_prometheus.targets() if t["labels"]["job"] != "prometheus"]
        return all(t["labels"].get("ray_io_cluster") == "ray-training-cluster" for t in ray)

    kubernetes_prometheus.sd_file.write_text(json.dumps(targets))
    try:
        wait_until(lambda: from_created_cluster() and kept() == expected, 30,
                   f"exactly {expected} from the created cluster's pods")
        labels = {t["labels"]["instance"]: t["labels"] for t in kubernetes_prometheus.targets()}
        assert labels[f"{LOOPBACK}:8081"]["pod"] == "ray-training-cluster-workers-worker-fghij"
        assert {labels[f"{LOOPBACK}:{port}"]["ray_io_cluster"] for port in (8080, 8081, 44217, 44227)} == {
            "ray-training-cluster"}
        wait_until(lambda: kubernetes_prometheus.query(
            'ray_node_cpu_utilization{ray_io_cluster="ray-training-cluster"}'), 30,
            "Ray series labelled with the created cluster's name")
    finally:
        kubernetes_prometheus.sd_file.write_text(json.dumps(PODS))
        wait_until(lambda: any(t["labels"].get("ray_io_cluster") == "raycluster-kuberay"
                               for t in kubernetes_prometheus.targets()), 30, "the original pods back")
