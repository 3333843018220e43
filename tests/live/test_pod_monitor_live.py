"""The Prometheus Operator mode's PodMonitor, live: its scrape configuration written out as the
operator (v0.93) generates it for a PodMonitor (selector and port keeps, its standard labels, job and
endpoint, then the PodMonitor's own relabelings), with only the discovery block swapped for file_sd
groups that carry the Kubernetes meta labels of the created RayCluster's pods, pointed at the live
Ray endpoints. Prometheus keeps exactly the Ray endpoints, with the labels Ray's dashboards need."""

from __future__ import annotations

import json

import pytest

from components.builders.pod_monitor import pod_monitor_spec
from support.kubernetes_sd import kuberay_pods
from support.live import LOOPBACK, Processes, Prometheus, wait_until
from support.prometheus_operator import operator_scrape_configs
from support.stacks import run_stack

PORT = 9092


@pytest.fixture(scope="module")
def operator_prometheus(live):
    stack = run_stack("minikube", prometheusOperator="true", externalPrometheusUrl="http://p.monitoring.svc:9090",
                      externalGrafanaUrl="http://g.monitoring.svc:80")
    assert stack.error is None, stack.error
    monitor = stack.one("kubernetes:monitoring.coreos.com/v1:PodMonitor", "prometheus-operator-pod-monitor").plain
    assert monitor["spec"] == pod_monitor_spec(("ray-system",), "5s")
    cluster = stack.one("kubernetes:ray.io/v1:RayCluster", "ray-cluster-cluster").plain
    workdir = live.workdir / "pod-monitor"
    workdir.mkdir()
    sd_file = workdir / "pods.json"
    sd_file.write_text(json.dumps(kuberay_pods(cluster)))
    config = {"global": {"scrape_interval": "5s"},
              "scrape_configs": operator_scrape_configs("monitoring", "ray", monitor["spec"], str(sd_file))}
    processes = Processes()
    prometheus = Prometheus(processes, workdir / "prometheus", config, port=PORT)
    try:
        prometheus.start()
        yield prometheus
    finally:
        processes.stop_all()


def test_exactly_the_ray_endpoints_are_scraped(operator_prometheus):
    expected = sorted([("metrics", f"{LOOPBACK}:8080"), ("metrics", f"{LOOPBACK}:8081"),
                       ("autoscaler-metrics", f"{LOOPBACK}:44217"), ("dashboard-metrics", f"{LOOPBACK}:44227")])

    def kept() -> list:
        return sorted((t["labels"]["endpoint"], t["labels"]["instance"]) for t in operator_prometheus.targets())

    wait_until(lambda: kept() == expected, 30, f"exactly {expected}")
    wait_until(lambda: all(t["health"] == "up" for t in operator_prometheus.targets()), 30, "all up")


def test_targets_carry_the_labels_rays_dashboards_use(operator_prometheus):
    wait_until(lambda: len(operator_prometheus.targets()) == 4, 30, "four targets")
    for target in operator_prometheus.targets():
        labels = target["labels"]
        assert labels["ray_io_cluster"] == "ray-training-cluster" and labels["namespace"] == "ray-system"
        assert labels["job"].startswith("ray") and labels["pod"].startswith("ray-training-cluster-")
        assert labels["node"] == "minikube" and labels["ray_node_type"] in ("head", "worker")
    wait_until(lambda: operator_prometheus.query(
        'ray_node_cpu_utilization{ray_io_cluster="ray-training-cluster", SessionName!=""}'), 30,
        "Ray series with ray_io_cluster and SessionName")
