"""Server-side-apply patch of an existing KubeRay RayCluster or RayService: Grafana/Prometheus env on
its head container, merged with the entries already there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.builders.ray_head_env import raycluster_patch_spec, rayservice_patch_spec
from components.kubernetes import common as kc


@dataclass(frozen=True)
class RayClusterPatchArgs:
    cluster_name: str
    namespace: str
    head_container: str
    env: list[dict[str, Any]]  # from components.builders.ray_head_env.ray_head_env
    head_restart: str  # "upgradeStrategy" | "none" (RayCluster only)
    kind: str = "RayCluster"  # or RayService: the env goes into spec.rayClusterConfig


class RayClusterPatch(pulumi.ComponentResource):
    def __init__(self, name: str, args: RayClusterPatchArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:kubernetes:RayClusterPatch", name, None, opts)
        self.patch = k8s.apiextensions.CustomResourcePatch(
            f"{name}-head-env",
            api_version="ray.io/v1",
            kind=args.kind,
            metadata={
                "name": args.cluster_name,
                "namespace": args.namespace,
                # These four env entries are ours: take them over from whoever set them before
                # (a Helm release or kubectl apply) instead of failing on the conflict.
                "annotations": {"pulumi.com/patchForce": "true"},
            },
            spec=(rayservice_patch_spec(args.head_container, args.env) if args.kind == "RayService"
                  else raycluster_patch_spec(args.head_container, args.env, args.head_restart)),
            opts=kc.child_options(self, opts),
        )
        self.register_outputs({})
