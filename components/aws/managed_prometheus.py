"""An Amazon Managed Service for Prometheus workspace: the head's Prometheus writes to it and Grafana
reads it, both signing SigV4 with the head's instance role (which may do only that, on this workspace)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# What the head's role may do on the workspace: write, and the reads Grafana's Prometheus datasource makes.
WRITE_ACTIONS = ["aps:RemoteWrite"]
QUERY_ACTIONS = ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"]


@dataclass(frozen=True)
class ManagedPrometheusArgs:
    cluster_name: str


class ManagedPrometheus(pulumi.ComponentResource):
    workspace_arn: pulumi.Output[str]
    query_url: pulumi.Output[str]  # Grafana's datasource URL (Prometheus' HTTP API under it)
    remote_write_url: pulumi.Output[str]

    def __init__(self, name: str, args: ManagedPrometheusArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:aws:ManagedPrometheus", name, None, opts)
        workspace = aws.amp.Workspace(f"{name}-workspace", alias=args.cluster_name,
                                      tags={"ray-cluster": args.cluster_name},
                                      opts=pulumi.ResourceOptions(parent=self))
        # prometheus_endpoint is https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>/
        self.workspace_arn = workspace.arn
        self.query_url = workspace.prometheus_endpoint.apply(lambda endpoint: endpoint.rstrip("/"))
        self.remote_write_url = self.query_url.apply(lambda url: f"{url}/api/v1/remote_write")
        self.register_outputs({"workspace_arn": self.workspace_arn, "query_url": self.query_url})
