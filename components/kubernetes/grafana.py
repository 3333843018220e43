"""Grafana on Kubernetes: generated admin password, config, provisioning, dashboards, Service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.builders.checksums import checksum
from components.builders.dashboard_catalogue import Dashboard
from components.builders.grafana_admin_password import sync_script
from components.constants import (
    GRAFANA_DASHBOARDS_DIR,
    GRAFANA_DATASOURCE_CREDENTIAL,
    GRAFANA_KUBERNETES_UID,
    GRAFANA_LOGS_CREDENTIAL,
    GRAFANA_PORT,
    GRAFANA_PROVISIONING_DIR,
    GRAFANA_SECRET_KEY,
    GRAFANA_SECRETS_DIR,
)
from components.generated import GivenSecrets, generated_secret
from components.kubernetes import common as kc
from components.kubernetes.common import Resources, Storage
from components.versions import GRAFANA_IMAGE


@dataclass(frozen=True)
class GrafanaArgs:
    namespace: str
    grafana_ini: str
    datasources_yaml: str
    dashboard_providers_yaml: str
    dashboards: tuple[Dashboard, ...]
    resources: Resources
    storage: Storage
    service_type: str  # ClusterIP | NodePort | LoadBalancer
    service_port: int
    node_port: int | None
    source_ranges: tuple[str, ...] = ()  # LoadBalancer: the CIDRs it admits
    # The password or token the datasource sends to a store (a Pulumi secret), read from a file.
    datasource_credential: pulumi.Input[str] | None = None
    logs_credential: pulumi.Input[str] | None = None  # the one the logs datasource sends to the user's Loki
    given: GivenSecrets = GivenSecrets()  # the admin password and secret key, when the user sets them


class Grafana(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    url: str  # in-cluster URL with the port
    admin_password: pulumi.Output[str]  # a Pulumi secret

    def __init__(self, name: str, args: GrafanaArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:kubernetes:Grafana", name, None, opts)
        child = kc.child_options(self, opts)
        labels = kc.labels("grafana", name, "dashboards", kc.image_version(GRAFANA_IMAGE))
        selector = kc.selector_labels("grafana", name)

        def metadata(suffix: str) -> dict[str, Any]:
            return {"name": f"{name}-{suffix}", "namespace": args.namespace, "labels": labels}

        admin_password = generated_secret(f"{name}-admin-password", child, length=32,
                                          given=args.given.grafana_admin_password)
        secret_key = generated_secret(f"{name}-secret-key", child, given=args.given.grafana_secret_key)
        # Auto-named, like the ConfigMaps: pulumi-kubernetes replaces a Secret whose data changes, so a rotated
        # password, secret key or credential is a new Secret, and the Deployment rolls Grafana onto it (Grafana
        # reads them as it starts); a fixed name would be deleted first, under the running pod.
        owned = {"namespace": args.namespace, "labels": labels}
        secret = k8s.core.v1.Secret(
            f"{name}-admin",
            metadata=owned,
            type="Opaque",
            string_data={"admin-password": admin_password,
                         GRAFANA_SECRET_KEY: secret_key},
            opts=child,
        )
        secrets = [{"secret": {"name": secret.metadata.name}}]
        credentials = {file: pulumi.Output.secret(value) for file, value in (
            (GRAFANA_DATASOURCE_CREDENTIAL, args.datasource_credential),
            (GRAFANA_LOGS_CREDENTIAL, args.logs_credential)) if value is not None}
        if credentials:
            credential = k8s.core.v1.Secret(f"{name}-datasource", metadata=owned, type="Opaque",
                                            string_data=credentials, opts=child)
            secrets.append({"secret": {"name": credential.metadata.name}})
        # The ConfigMaps are auto-named too: a change makes new ones and rolls the Deployment to them (with fixed
        # names Pulumi would delete them first and replace the Deployment).
        generated = owned
        config = k8s.core.v1.ConfigMap(f"{name}-config", metadata=generated, data={"grafana.ini": args.grafana_ini},
                                       opts=child)
        provisioning = k8s.core.v1.ConfigMap(
            f"{name}-provisioning",
            metadata=generated,
            data={"datasources.yaml": args.datasources_yaml, "dashboards.yaml": args.dashboard_providers_yaml},
            opts=child,
        )
        # One ConfigMap per dashboard: Ray's largest is ~370 KB and a ConfigMap holds at most 1 MiB.
        dashboard_maps = [
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{dashboard.slug}",
                metadata={**generated, "annotations": {"ray-monitoring/dashboard-uid": dashboard.uid}},
                data={dashboard.file_name: dashboard.content},
                opts=child,
            )
            for dashboard in args.dashboards
        ]
        if args.storage.persistent:
            k8s.core.v1.PersistentVolumeClaim(
                f"{name}-data", metadata=metadata("data"), spec=kc.claim_spec(args.storage), opts=child
            )

        health = {"httpGet": {"path": "/api/health", "port": "http"}}
        mounts: list[dict[str, Any]] = [
            {"name": "config", "mountPath": "/etc/grafana/grafana.ini", "subPath": "grafana.ini",
             "readOnly": True},
            {"name": "provisioning", "mountPath": GRAFANA_PROVISIONING_DIR, "readOnly": True},
            {"name": "dashboards", "mountPath": GRAFANA_DASHBOARDS_DIR, "readOnly": True},
            {"name": "admin", "mountPath": GRAFANA_SECRETS_DIR, "readOnly": True},
            {"name": "data", "mountPath": "/var/lib/grafana"},
            {"name": "tmp", "mountPath": "/tmp"},
        ]
        container = {
            "name": "grafana",
            "image": GRAFANA_IMAGE,
            "ports": [{"name": "http", "containerPort": GRAFANA_PORT}],
            "env": [{"name": "GF_PATHS_PROVISIONING", "value": GRAFANA_PROVISIONING_DIR}],
            "readinessProbe": {**health, "initialDelaySeconds": 5, "periodSeconds": 10},
            "livenessProbe": {**health, "initialDelaySeconds": 60, "periodSeconds": 15, "failureThreshold": 4},
            "securityContext": kc.container_security_context(GRAFANA_KUBERNETES_UID),
            "volumeMounts": mounts,
        }
        volumes = [
            {"name": "config", "configMap": {"name": config.metadata.name}},
            {
                "name": "provisioning",
                "configMap": {
                    "name": provisioning.metadata.name,
                    "items": [
                        {"key": "datasources.yaml", "path": "datasources/datasources.yaml"},
                        {"key": "dashboards.yaml", "path": "dashboards/dashboards.yaml"},
                    ],
                },
            },
            {
                "name": "dashboards",
                "projected": {"sources": [{"configMap": {"name": m.metadata.name}} for m in dashboard_maps]},
            },
            # The admin password and the datasource's credential (if any), side by side in GRAFANA_SECRETS_DIR.
            {"name": "admin", "projected": {"sources": secrets, "defaultMode": 0o440}} if len(secrets) > 1
            else {"name": "admin", "secret": {"secretName": secret.metadata.name, "defaultMode": 0o440}},
            kc.storage_volume("data", args.storage, f"{name}-data"),
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        ]
        container["resources"] = kc.resources(args.resources, volumes)
        rendered = checksum(
            args.grafana_ini, args.datasources_yaml, args.dashboard_providers_yaml,
            *[d.content for d in args.dashboards],
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": name, "namespace": args.namespace, "labels": labels},
            # SQLite on a ReadWriteOnce volume: the old pod must stop before the new one starts.
            spec=kc.single_pod_deployment(selector, labels, {"checksum/config": rendered}, {
                "automountServiceAccountToken": False,
                "securityContext": kc.pod_security_context(GRAFANA_KUBERNETES_UID),
                "initContainers": [_password_sync(mounts)],
                "containers": [container],
                "volumes": volumes,
            }),
            opts=child,
        )
        # Grafana is the UI: its port is open to any client the Service lets in, and nothing else is.
        service = kc.http_service(name, args.namespace, labels, selector, args.service_port, None, child,
                                  args.service_type, args.node_port, args.source_ranges)

        self.service_name = service.metadata.name
        self.url = kc.service_url(name, args.namespace, args.service_port)
        self.admin_password = admin_password
        self.deployment = deployment
        self.register_outputs(
            {"service_name": self.service_name, "url": self.url, "admin_password": self.admin_password}
        )


def _password_sync(mounts: list[dict[str, Any]]) -> dict[str, Any]:
    """Runs before each Grafana start: a rotated admin password reaches Grafana's database
    (grafana_admin_password.py), from the same files Grafana reads."""
    return {
        "name": "admin-password",
        "image": GRAFANA_IMAGE,
        "command": ["sh", "-c", sync_script()],
        "securityContext": kc.container_security_context(GRAFANA_KUBERNETES_UID),
        "volumeMounts": [m for m in mounts if m["name"] in ("config", "admin", "data", "tmp")],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    }
