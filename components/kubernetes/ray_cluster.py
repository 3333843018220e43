"""A RayCluster created with monitoring wired in (components.builders.ray_cluster builds its spec)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.builders.ray_cluster import TOKEN_KEY, RayClusterShape, ScaledWorkers, ray_cluster_spec
from components.generated import generated_secret
from components.kubernetes import common as kc
from components.kubernetes.log_collector_inputs import collector_inputs


@dataclass(frozen=True)
class RayClusterArgs:
    cluster_name: str
    namespace: str
    shape: RayClusterShape
    head_container: str
    head_env: list[dict[str, Any]]  # from components.builders.ray_head_env.ray_head_env
    worker_env: list[dict[str, Any]] = field(default_factory=list)  # ray_node_env's, on every worker
    token_auth: bool = False  # Ray's token authentication, with a token generated here
    token: str | None = None  # the user's token instead (rayAuthToken)
    scaled: ScaledWorkers | None = None  # the live cluster's worker group, as the autoscaler left it
    log_collector_yaml: str | None = None  # every pod's log collector (components.builders.logs.sidecar)
    log_store_authorization: pulumi.Input[str] | None = None  # the collectors' Authorization header (a secret)


# Ray's autoscaler JSON-patches the worker group's replicas. workerGroupSpecs is an atomic list in KubeRay's
# CRD, so the whole list becomes the autoscaler's field manager's, and a server-side apply that is not forced
# fails with a conflict on .spec.workerGroupSpecs. The stack owns this RayCluster (preflight refuses a
# same-named one it did not create) and applies the autoscaler's replicas and scaleStrategy as it finds them.
FORCE_APPLY = {"pulumi.com/patchForce": "true"}


class RayCluster(pulumi.ComponentResource):
    cluster: k8s.apiextensions.CustomResource
    token: pulumi.Output[str] | None  # a Pulumi secret; None without token authentication

    def __init__(self, name: str, args: RayClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:kubernetes:RayCluster", name, None, opts)
        child = kc.child_options(self, opts)
        self.token, token_secret, cluster_opts = None, None, child
        if args.token_auth:
            self.token = generated_secret(f"{name}-auth-token", child, given=args.token)
            # Auto-named: pulumi-kubernetes replaces a Secret whose data changes, so a new token is a new Secret,
            # the pod templates name it, and KubeRay (upgradeStrategy Recreate) recreates every pod, head and
            # workers together: no worker ever starts with a token its head does not have.
            secret = k8s.core.v1.Secret(
                f"{name}-auth-token-secret", type="Opaque", string_data={TOKEN_KEY: self.token},
                metadata={"namespace": args.namespace, "labels": kc.labels("ray", args.cluster_name, "compute")},
                opts=child)
            token_secret = secret.metadata.name
            # The pods read it as they start.
            cluster_opts = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[secret]))
        logs = None
        if args.log_collector_yaml is not None:
            logs, needed = collector_inputs(name, args.namespace, args.cluster_name, args.log_collector_yaml,
                                            args.log_store_authorization, child)
            cluster_opts = pulumi.ResourceOptions.merge(cluster_opts, pulumi.ResourceOptions(depends_on=needed))
        self.cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="ray.io/v1",
            kind="RayCluster",
            metadata={
                "name": args.cluster_name,
                "namespace": args.namespace,
                "labels": kc.labels("ray", args.cluster_name, "compute"),
                "annotations": FORCE_APPLY,
            },
            spec=ray_cluster_spec(args.shape, args.head_container, args.head_env, token_secret, args.worker_env,
                                  args.scaled, logs),
            opts=cluster_opts,
        )
        self.register_outputs({"cluster": self.cluster})
