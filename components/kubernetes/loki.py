"""Loki on Kubernetes, the log store of the Ray pods' collectors: one pod, its configuration, its volume, and
a ClusterIP Service only the collectors and Grafana get through to. It talks to no API: its ServiceAccount has
no role and mounts no token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.builders.checksums import checksum
from components.builders.logs.loki_config import LOKI_CONFIG_FILE, LOKI_CONFIG_NAME, LOKI_DATA, LOKI_PORT, LOKI_UID
from components.kubernetes import common as kc
from components.kubernetes.common import Resources, Storage
from components.versions import LOKI_IMAGE

TMP_SIZE = "64Mi"  # the image's /tmp, under a read-only root filesystem


@dataclass(frozen=True)
class LokiArgs:
    namespace: str
    loki_yaml: str  # rendered by components.builders.logs.loki_config
    resources: Resources
    storage: Storage
    # NetworkPolicy peers allowed to write and read: Loki has one tenant and no login.
    clients: list[dict[str, Any]] = field(default_factory=list)


class Loki(pulumi.ComponentResource):
    url: str  # in-cluster URL with the port; known before deploy (the Service name is fixed)

    def __init__(self, name: str, args: LokiArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:kubernetes:Loki", name, None, opts)
        child = kc.child_options(self, opts)
        labels = kc.labels("loki", name, "logs", kc.image_version(LOKI_IMAGE))
        selector = kc.selector_labels("loki", name)
        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account", metadata={"name": name, "namespace": args.namespace, "labels": labels},
            automount_service_account_token=False, opts=child)
        # Auto-named: a new configuration is a new ConfigMap, and the Deployment rolls onto it.
        config_map = k8s.core.v1.ConfigMap(f"{name}-config", metadata={"namespace": args.namespace, "labels": labels},
                                           data={LOKI_CONFIG_NAME: args.loki_yaml}, opts=child)
        if args.storage.persistent:
            k8s.core.v1.PersistentVolumeClaim(
                f"{name}-data", metadata={"name": f"{name}-data", "namespace": args.namespace, "labels": labels},
                spec=kc.claim_spec(args.storage), opts=child)
        volumes = [{"name": "config", "configMap": {"name": config_map.metadata.name}},
                   kc.storage_volume("data", args.storage, f"{name}-data"),
                   {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE}}]
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": name, "namespace": args.namespace, "labels": labels},
            # One filesystem store, one writer: replaced, never rolled beside itself.
            spec=kc.single_pod_deployment(selector, labels, {"checksum/config": checksum(args.loki_yaml)}, {
                "serviceAccountName": account.metadata.name,
                "automountServiceAccountToken": False,
                "securityContext": kc.pod_security_context(LOKI_UID),
                "containers": [_container(args, volumes)],
                "volumes": volumes,
            }),
            opts=child)
        kc.http_service(name, args.namespace, labels, selector, LOKI_PORT, args.clients, child)
        self.url = kc.service_url(name, args.namespace, LOKI_PORT)
        self.register_outputs({"url": self.url})


def _container(args: LokiArgs, volumes: list[dict[str, Any]]) -> dict[str, Any]:
    ready = {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 10}
    return {
        "name": "loki",
        "image": LOKI_IMAGE,
        "args": [f"-config.file={LOKI_CONFIG_FILE}"],
        "ports": [{"name": "http", "containerPort": LOKI_PORT}],
        # /ready turns true a while after start (the ingester joins its ring): killed only if it never does.
        "readinessProbe": {**ready, "initialDelaySeconds": 15},
        "livenessProbe": {**ready, "initialDelaySeconds": 120, "failureThreshold": 6},
        "resources": kc.resources(args.resources, volumes),
        "securityContext": kc.container_security_context(LOKI_UID),
        "volumeMounts": [{"name": "config", "mountPath": "/etc/loki", "readOnly": True},
                         {"name": "data", "mountPath": LOKI_DATA},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
