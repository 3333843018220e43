"""RAY_PROMETHEUS_HEADERS as a Secret in every Ray namespace: the credentials a Ray head sends when its
dashboard queries a store instead of our Prometheus (agent mode). The head reads it by secretKeyRef."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.builders.ray_head_env import HEADERS_KEY
from components.kubernetes import common as kc

SECRET_NAME = "ray-prometheus-headers"


@dataclass(frozen=True)
class RayQueryHeadersArgs:
    namespaces: tuple[str, ...]  # where the Ray heads run
    headers: pulumi.Input[str]  # RAY_PROMETHEUS_HEADERS (JSON), a Pulumi secret


class RayQueryHeaders(pulumi.ComponentResource):
    secret_name: str = SECRET_NAME

    def __init__(self, name: str, args: RayQueryHeadersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:kubernetes:RayQueryHeaders", name, None, opts)
        child = kc.child_options(self, opts)
        self.secrets = [
            k8s.core.v1.Secret(
                f"{name}-{namespace}",
                metadata={"name": SECRET_NAME, "namespace": namespace,
                          "labels": kc.labels("ray-monitoring", name, "ray-query-headers")},
                type="Opaque",
                string_data={HEADERS_KEY: pulumi.Output.secret(args.headers)},
                opts=child,
            )
            for namespace in args.namespaces
        ]
        self.register_outputs({})
