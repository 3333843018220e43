"""For clusters that already run the Prometheus Operator (kube-prometheus-stack): a PodMonitor for the
Ray pods, a PrometheusRule with the Ray alerts, and Ray's dashboards as ConfigMaps that the user's
Grafana sidecar loads. None of our own Prometheus, Grafana or RBAC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.builders.dashboard_catalogue import Dashboard
from components.kubernetes import common as kc

# kube-prometheus-stack's Grafana sidecar puts a dashboard in the folder this annotation names when
# its `sidecar.dashboards.folderAnnotation` is set to it (docs/existing-clusters.md).
FOLDER_ANNOTATION = "grafana_folder"


@dataclass(frozen=True)
class PrometheusOperatorArgs:
    namespace: str  # where the PodMonitor, PrometheusRule and dashboard ConfigMaps go
    pod_monitor: dict[str, Any]  # spec, from components.builders.pod_monitor
    rules: dict[str, Any]  # spec of the PrometheusRule: {"groups": [...]}, from components.builders.alert_rules
    selector_labels: dict[str, str]  # what the user's Prometheus selects PodMonitors and rules by
    dashboards: tuple[Dashboard, ...]
    dashboard_labels: dict[str, str]  # what the user's Grafana sidecar loads
    folder: str


class PrometheusOperatorResources(pulumi.ComponentResource):
    def __init__(self, name: str, args: PrometheusOperatorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:kubernetes:PrometheusOperatorResources", name, None, opts)
        child = kc.child_options(self, opts)
        labels = {**kc.labels("ray-monitoring", name, "monitoring"), **args.selector_labels}
        k8s.apiextensions.CustomResource(
            f"{name}-pod-monitor", api_version="monitoring.coreos.com/v1", kind="PodMonitor",
            metadata={"name": "ray", "namespace": args.namespace, "labels": labels},
            spec=args.pod_monitor, opts=child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-rules", api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
            metadata={"name": "ray-alerts", "namespace": args.namespace, "labels": labels},
            spec=args.rules, opts=child,
        )
        # One ConfigMap per dashboard: Ray's largest is ~370 KB and a ConfigMap holds at most 1 MiB.
        for dashboard in args.dashboards:
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{dashboard.slug}",
                metadata={"name": f"ray-dashboard-{dashboard.slug}", "namespace": args.namespace,
                          "labels": {**kc.labels("ray-monitoring", name, "dashboards"), **args.dashboard_labels},
                          "annotations": {FOLDER_ANNOTATION: args.folder,
                                          "ray-monitoring/dashboard-uid": dashboard.uid}},
                data={dashboard.file_name: dashboard.content}, opts=child,
            )
        self.register_outputs({})
