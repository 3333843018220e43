"""Prometheus Operator objects for Ray (no Pulumi here): a PodMonitor that scrapes Ray pods with the
same labels as this project's own scrape configuration, so Ray's dashboards work on a Prometheus
the user already runs (kube-prometheus-stack).

A PodMonitor's `portNumber` only selects ports a pod declares (the CRD says so), and a RayCluster
need not declare the head's autoscaler (44217) and dashboard (44227) metrics ports: those endpoints
select the always-declared `metrics` port of head pods and rewrite the address's port instead.
"""

from __future__ import annotations

from typing import Any

from components.builders.prometheus_config import KUBERNETES_JOBS

METRICS_PORT_NAME = "metrics"  # declared by KubeRay on every Ray container

# endpoint label -> the job our own scrape configuration names (its node types and port)
ENDPOINTS = {"metrics": "ray", "autoscaler-metrics": "ray-autoscaler", "dashboard-metrics": "ray-dashboard"}


def _relabelings(endpoint: str, job: str) -> list[dict[str, Any]]:
    node_types, port = KUBERNETES_JOBS[job]
    rules = [{"sourceLabels": ["__meta_kubernetes_pod_label_ray_io_node_type"], "regex": node_types,
              "action": "keep"}]
    if port is not None:
        rules.append({"sourceLabels": ["__address__"], "regex": "(.+):\\d+", "replacement": f"${{1}}:{port}",
                      "targetLabel": "__address__", "action": "replace"})
        rules.append({"targetLabel": "endpoint", "replacement": endpoint, "action": "replace"})
    # The labels this project's own scrape configuration adds (the operator adds namespace and pod).
    for source, target in (("__meta_kubernetes_pod_label_ray_io_cluster", "ray_io_cluster"),
                           ("__meta_kubernetes_pod_label_ray_io_node_type", "ray_node_type"),
                           ("__meta_kubernetes_pod_node_name", "node")):
        rules.append({"sourceLabels": [source], "targetLabel": target, "action": "replace"})
    # The operator names the job <namespace>/<PodMonitor> and appends these rules after its own: the same
    # job names as our own configuration keep the alert rules (job=~"ray.*") and the doctor working.
    rules.append({"targetLabel": "job", "replacement": job, "action": "replace"})
    return rules


def pod_monitor_spec(namespaces: tuple[str, ...] | None, scrape_interval: str) -> dict[str, Any]:
    """`spec` of a monitoring.coreos.com/v1 PodMonitor for the Ray pods in `namespaces` (None: all)."""
    return {
        "namespaceSelector": {"any": True} if namespaces is None else {"matchNames": list(namespaces)},
        "selector": {"matchExpressions": [{"key": "ray.io/node-type", "operator": "In",
                                           "values": ["head", "worker"]}]},
        "podMetricsEndpoints": [
            {"port": METRICS_PORT_NAME, "interval": scrape_interval,
             "relabelings": _relabelings(endpoint, job)}
            for endpoint, job in ENDPOINTS.items()
        ],
    }
