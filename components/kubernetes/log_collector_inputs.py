"""What a Ray pod's log collector mounts, beside the pods in their namespace (a pod mounts only its own
namespace's): its configuration as a ConfigMap and, when the store wants one, its Authorization header as a
Secret. Both auto-named: a new configuration or a rotated credential is a new object the pod template names,
so KubeRay recreates the pods onto it rather than leaving them on the old one."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.builders.logs.sidecar import AUTHORIZATION_KEY, CONFIG_NAME, PodLogs
from components.kubernetes import common as kc


def collector_inputs(name: str, namespace: str, cluster_name: str, collector_yaml: str,
                     authorization: pulumi.Input[str] | None, opts: pulumi.ResourceOptions
                     ) -> tuple[PodLogs, list[pulumi.Resource]]:
    """The objects `<name>-log-collector` and `<name>-log-store`, and what the pods must wait for."""
    labels = kc.labels("ray", cluster_name, "logs")
    collector = k8s.core.v1.ConfigMap(f"{name}-log-collector", data={CONFIG_NAME: collector_yaml},
                                      metadata={"namespace": namespace, "labels": labels}, opts=opts)
    if authorization is None:
        return PodLogs(collector.metadata.name), [collector]
    store = k8s.core.v1.Secret(
        f"{name}-log-store", type="Opaque", string_data={AUTHORIZATION_KEY: pulumi.Output.secret(authorization)},
        metadata={"namespace": namespace, "labels": labels}, opts=opts)
    return PodLogs(collector.metadata.name, store.metadata.name), [collector, store]
