"""Optional NodePort Service for the Ray Dashboard, selecting the head pod by KubeRay's labels."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.constants import KUBERAY_POD_LABELS, RAY_DASHBOARD_PORT
from components.kubernetes import common as kc


@dataclass(frozen=True)
class RayDashboardServiceArgs:
    cluster_name: str
    namespace: str
    node_port: int


class RayDashboardService(pulumi.ComponentResource):
    service_name: pulumi.Output[str]

    def __init__(self, name: str, args: RayDashboardServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:kubernetes:RayDashboardService", name, None, opts)
        labels = kc.labels("ray-dashboard", name, "dashboard")
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": f"{args.cluster_name}-dashboard-nodeport", "namespace": args.namespace,
                      "labels": labels},
            spec={
                "type": "NodePort",
                "selector": {"ray.io/cluster": args.cluster_name, "ray.io/node-type": "head", **KUBERAY_POD_LABELS},
                "ports": [{"name": "dashboard", "port": RAY_DASHBOARD_PORT, "targetPort": RAY_DASHBOARD_PORT,
                           "nodePort": args.node_port}],
            },
            opts=kc.child_options(self, opts),
        )
        self.service_name = service.metadata.name
        self.register_outputs({"service_name": self.service_name})
