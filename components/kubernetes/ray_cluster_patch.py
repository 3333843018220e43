"""Server-side-apply patch of an existing KubeRay RayCluster or RayService: Grafana/Prometheus env on
its head container, merged with the entries already there, and the head's log collector when logs are on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.builders.logs.head_patch import with_head_collector
from components.builders.ray_head_env import head_template, raycluster_patch_spec, rayservice_patch_spec
from components.kubernetes import common as kc
from components.kubernetes.log_collector_inputs import collector_inputs


@dataclass(frozen=True)
class HeadLogs:
    """The head's log collector: its configuration, the store's header when it wants one, and the head's pod
    spec as the cluster has it (where Ray's /tmp/ray already is: components.builders.logs.head_patch)."""

    collector_yaml: str
    head_spec: dict[str, Any]
    authorization: pulumi.Input[str] | None = None  # a secret


@dataclass(frozen=True)
class RayClusterPatchArgs:
    cluster_name: str
    namespace: str
    head_container: str
    env: list[dict[str, Any]]  # from components.builders.ray_head_env.ray_head_env
    head_restart: str  # "upgradeStrategy" | "none" (RayCluster only)
    kind: str = "RayCluster"  # or RayService: the env goes into spec.rayClusterConfig
    logs: HeadLogs | None = None


class RayClusterPatch(pulumi.ComponentResource):
    def __init__(self, name: str, args: RayClusterPatchArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:kubernetes:RayClusterPatch", name, None, opts)
        child = kc.child_options(self, opts)
        template = head_template(args.head_container, args.env)
        patch_opts = child
        if args.logs is not None:
            pod_logs, needed = collector_inputs(name, args.namespace, args.cluster_name, args.logs.collector_yaml,
                                                args.logs.authorization, child)
            template = with_head_collector(template, args.logs.head_spec, args.head_container, pod_logs)
            patch_opts = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=needed))
        self.patch = k8s.apiextensions.CustomResourcePatch(
            f"{name}-head-env",
            api_version="ray.io/v1",
            kind=args.kind,
            metadata={
                "name": args.cluster_name,
                "namespace": args.namespace,
                # These fields are ours: take them over from whoever set them before
                # (a Helm release or kubectl apply) instead of failing on the conflict.
                "annotations": {"pulumi.com/patchForce": "true"},
            },
            spec=(rayservice_patch_spec(template) if args.kind == "RayService"
                  else raycluster_patch_spec(template, args.head_restart)),
            opts=patch_opts,
        )
        self.register_outputs({})
