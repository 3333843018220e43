"""Alertmanager on Kubernetes: its configuration (which holds the receivers' credentials) in a Secret,
one hardened pod, a ClusterIP Service, and a NetworkPolicy that admits Prometheus and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.builders.alertmanager_config import FILE_NAME
from components.constants import ALERTMANAGER_PORT, PROMETHEUS_UID
from components.kubernetes import common as kc
from components.kubernetes.common import Resources
from components.versions import ALERTMANAGER_IMAGE

CONFIG_DIR = "/etc/alertmanager"
DATA_DIR = "/alertmanager"  # silences and the notification log
RESOURCES = Resources("50m", "200m", "64Mi", "128Mi")


@dataclass(frozen=True)
class AlertmanagerArgs:
    namespace: str
    config: pulumi.Input[str]  # rendered by components.builders.alertmanager_config; a Pulumi secret
    clients: list[dict[str, Any]]  # NetworkPolicy peers: Prometheus


class Alertmanager(pulumi.ComponentResource):
    url: str  # in-cluster URL; known before deploy (the Service name is fixed)

    def __init__(self, name: str, args: AlertmanagerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:kubernetes:Alertmanager", name, None, opts)
        child = kc.child_options(self, opts)
        labels = kc.labels("alertmanager", name, "alerting", kc.image_version(ALERTMANAGER_IMAGE))
        selector = kc.selector_labels("alertmanager", name)
        # Auto-named: a new configuration is a new Secret (pulumi-kubernetes replaces one whose data changes),
        # so the pod rolls through its volume's secretName; no digest of the receivers' credentials is
        # written on the pod template, which whoever may read Deployments sees.
        secret = k8s.core.v1.Secret(
            f"{name}-config",
            metadata={"namespace": args.namespace, "labels": labels},
            type="Opaque",
            string_data={FILE_NAME: pulumi.Output.secret(args.config)},
            opts=child,
        )
        volumes = [
            {"name": "config", "secret": {"secretName": secret.metadata.name, "defaultMode": 0o440}},
            {"name": "data", "emptyDir": {"sizeLimit": "256Mi"}},
        ]
        probe = {"httpGet": {"path": "/-/ready", "port": "http"}, "periodSeconds": 10}
        container = {
            "name": "alertmanager",
            "image": ALERTMANAGER_IMAGE,
            "args": [f"--config.file={CONFIG_DIR}/{FILE_NAME}", f"--storage.path={DATA_DIR}",
                     f"--web.listen-address=:{ALERTMANAGER_PORT}",
                     # One replica: no gossip port to open.
                     "--cluster.listen-address="],
            "ports": [{"name": "http", "containerPort": ALERTMANAGER_PORT}],
            "readinessProbe": {**probe, "initialDelaySeconds": 3},
            "livenessProbe": {"httpGet": {"path": "/-/healthy", "port": "http"}, "periodSeconds": 15,
                              "initialDelaySeconds": 10, "failureThreshold": 4},
            "resources": kc.resources(RESOURCES, volumes),
            "securityContext": kc.container_security_context(PROMETHEUS_UID),
            "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                             {"name": "data", "mountPath": DATA_DIR}],
        }
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": name, "namespace": args.namespace, "labels": labels},
            spec=kc.single_pod_deployment(selector, labels, {}, {
                "automountServiceAccountToken": False,
                "securityContext": kc.pod_security_context(PROMETHEUS_UID),
                "containers": [container],
                "volumes": volumes,
            }),
            opts=child,
        )
        kc.http_service(name, args.namespace, labels, selector, ALERTMANAGER_PORT, args.clients, child)
        self.url = kc.service_url(name, args.namespace, ALERTMANAGER_PORT)
        self.register_outputs({"url": self.url})
