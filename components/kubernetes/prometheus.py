"""Prometheus on Kubernetes: scrape configuration, RBAC, Deployment and a ClusterIP Service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.builders.checksums import checksum
from components.builders.prometheus_config import storage_flags
from components.builders.remote_write import SECRETS_DIR
from components.constants import PROMETHEUS_CONFIG_DIR, PROMETHEUS_PORT, PROMETHEUS_UID
from components.kubernetes import common as kc
from components.kubernetes.common import Resources, Storage
from components.kubernetes.prometheus_rbac import PrometheusRbac, PrometheusRbacArgs
from components.versions import PROMETHEUS_IMAGE

DATA_DIR = "/prometheus"


@dataclass(frozen=True)
class PrometheusArgs:
    namespace: str
    prometheus_yml: str  # rendered by components.builders.prometheus_config
    watch_namespaces: tuple[str, ...] | None
    retention_time: str
    retention_size: str
    resources: Resources
    storage: Storage
    rule_files: dict[str, str] = field(default_factory=dict)  # file name -> rule file text
    # NetworkPolicy peers allowed to query Prometheus, which has no authentication of its own.
    clients: list[dict[str, Any]] = field(default_factory=list)
    # Agent mode: scrape and remote-write only (no rules, no retention, no local queries).
    agent: bool = False
    # remote_write credentials: file name -> password or token (Pulumi secrets), mounted at SECRETS_DIR.
    # Prometheus reads them on every request, so a new value needs no restart.
    remote_write_secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


class Prometheus(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    url: str  # in-cluster URL with the port; known before deploy (the Service name is fixed)

    def __init__(self, name: str, args: PrometheusArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:kubernetes:Prometheus", name, None, opts)
        child = kc.child_options(self, opts)
        labels = kc.labels("prometheus", name, "metrics", kc.image_version(PROMETHEUS_IMAGE))
        selector = kc.selector_labels("prometheus", name)

        rbac = PrometheusRbac(
            f"{name}-rbac",
            PrometheusRbacArgs(name, args.namespace, args.watch_namespaces, labels),
            opts=child,
        )
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            # Auto-named: a change makes a new ConfigMap and rolls the Deployment to it; a fixed name would make
            # Pulumi delete it first and replace the Deployment with it.
            metadata={"namespace": args.namespace, "labels": labels},
            data={"prometheus.yml": args.prometheus_yml, **args.rule_files},
            opts=child,
        )
        volumes = [
            {"name": "config", "configMap": {"name": config_map.metadata.name}},
            kc.storage_volume("data", args.storage, f"{name}-data"),
        ]
        mounts = [
            {"name": "config", "mountPath": PROMETHEUS_CONFIG_DIR, "readOnly": True},
            {"name": "data", "mountPath": DATA_DIR},
        ]
        if args.remote_write_secrets:
            credentials = k8s.core.v1.Secret(
                f"{name}-remote-write",
                metadata={"name": f"{name}-remote-write", "namespace": args.namespace, "labels": labels},
                type="Opaque",
                string_data={file: pulumi.Output.secret(value) for file, value in args.remote_write_secrets.items()},
                opts=child,
            )
            volumes.append({"name": "remote-write", "secret": {"secretName": credentials.metadata.name,
                                                               "defaultMode": 0o440}})
            mounts.append({"name": "remote-write", "mountPath": SECRETS_DIR, "readOnly": True})
        if args.storage.persistent:
            k8s.core.v1.PersistentVolumeClaim(
                f"{name}-data",
                metadata={"name": f"{name}-data", "namespace": args.namespace, "labels": labels},
                spec=kc.claim_spec(args.storage),
                opts=child,
            )

        probe = {"httpGet": {"path": "/-/ready", "port": "http"}, "periodSeconds": 10}
        container = {
            "name": "prometheus",
            "image": PROMETHEUS_IMAGE,
            "args": [
                f"--config.file={PROMETHEUS_CONFIG_DIR}/prometheus.yml",
                *storage_flags(DATA_DIR, args.agent, args.retention_time, args.retention_size),
                f"--web.listen-address=:{PROMETHEUS_PORT}",
            ],
            "ports": [{"name": "http", "containerPort": PROMETHEUS_PORT}],
            "readinessProbe": {**probe, "initialDelaySeconds": 5, "failureThreshold": 3},
            "livenessProbe": {"httpGet": {"path": "/-/healthy", "port": "http"}, "periodSeconds": 15,
                              "initialDelaySeconds": 30, "failureThreshold": 4},
            "resources": kc.resources(args.resources, volumes),
            "securityContext": kc.container_security_context(PROMETHEUS_UID),
            "volumeMounts": mounts,
        }
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": name, "namespace": args.namespace, "labels": labels},
            # One TSDB, one writer: never two pods on the same volume. A new scrape config or rule
            # file changes the checksum and so rolls the pod: `pulumi up` applies it.
            spec=kc.single_pod_deployment(selector, labels, {"checksum/config": checksum(
                args.prometheus_yml, *[f"{k}\n{v}" for k, v in sorted(args.rule_files.items())]
            )}, {
                "serviceAccountName": rbac.service_account_name,
                # Discovery talks to the API server with this token.
                "automountServiceAccountToken": True,
                "securityContext": kc.pod_security_context(PROMETHEUS_UID),
                "containers": [container],
                "volumes": volumes,
            }),
            opts=child,
        )
        # No authentication of its own: ClusterIP only, and only its clients get through.
        service = kc.http_service(name, args.namespace, labels, selector, PROMETHEUS_PORT, args.clients, child)

        self.service_name = service.metadata.name
        self.url = kc.service_url(name, args.namespace, PROMETHEUS_PORT)
        self.deployment = deployment
        self.register_outputs({"service_name": self.service_name, "url": self.url})
