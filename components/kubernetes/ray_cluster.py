"""A RayCluster created with monitoring wired in (components.builders.ray_cluster builds its spec)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.builders.ray_cluster import RayClusterShape, ray_cluster_spec
from components.kubernetes import common as kc


@dataclass(frozen=True)
class RayClusterArgs:
    cluster_name: str
    namespace: str
    shape: RayClusterShape
    head_container: str
    head_env: list[dict[str, Any]]  # from components.builders.ray_head_env.ray_head_env


class RayCluster(pulumi.ComponentResource):
    cluster: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: RayClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:kubernetes:RayCluster", name, None, opts)
        self.cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="ray.io/v1",
            kind="RayCluster",
            metadata={
                "name": args.cluster_name,
                "namespace": args.namespace,
                "labels": kc.labels("ray", args.cluster_name, "compute"),
            },
            spec=ray_cluster_spec(args.shape, args.head_container, args.head_env),
            opts=kc.child_options(self, opts),
        )
        self.register_outputs({"cluster": self.cluster})
