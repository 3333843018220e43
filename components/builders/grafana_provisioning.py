"""Grafana's provisioning files for both stacks: the datasource the Ray Dashboard names
(RAY_PROMETHEUS_NAME) and the dashboard provider. Plain data in, text out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from components.builders.remote_write import StoreAuth
from components.constants import (
    GRAFANA_DASHBOARD_FOLDER,
    GRAFANA_DATASOURCE_UID,
    GRAFANA_LOGS_CREDENTIAL_FILE,
    GRAFANA_LOGS_DATASOURCE_UID,
)
from components.versions import GRAFANA_IMAGE

# Grafana 13 removes SigV4 signing from its core Prometheus datasource (its 13.0 breaking changes; the
# Amazon Managed Prometheus plugin takes it over): a bump past 12 must move SigV4 stores to that plugin.
SIGV4_CORE_LAST_MAJOR = 12
LOGS_DATASOURCE_NAME = "Ray logs"


def grafana_major(image: str = GRAFANA_IMAGE) -> int:
    return int(image.rsplit(":", 1)[1].split(".")[0])


def _static_auth(auth: StoreAuth, secret_file: str | None) -> dict[str, Any]:
    """A datasource's basic or bearer auth, its password or token read from `secret_file` when Grafana
    provisions (`$__file{}`), so it is never in the provisioning file."""
    secret = f"$__file{{{secret_file}}}"
    if auth.kind == "basic":
        return {"basicAuth": True, "basicAuthUser": auth.username, "secureJsonData": {"basicAuthPassword": secret}}
    if auth.kind == "bearer":
        return {"jsonData": {"httpHeaderName1": "Authorization"},
                "secureJsonData": {"httpHeaderValue1": f"Bearer {secret}"}}
    return {}


@dataclass(frozen=True)
class LogsSource:
    """The Loki Grafana reads Ray's logs from: the stack's, or the user's (logsUrl) with its auth, whose
    credential is in GRAFANA_LOGS_CREDENTIAL_FILE."""

    url: str
    auth: StoreAuth = StoreAuth("none")


def logs_datasource(logs: LogsSource) -> dict[str, Any]:
    """Grafana's built-in Loki datasource, with the fixed uid the logs dashboard and links name."""
    return {"name": LOGS_DATASOURCE_NAME, "uid": GRAFANA_LOGS_DATASOURCE_UID, "type": "loki", "access": "proxy",
            "url": logs.url, "editable": False, **_static_auth(logs.auth, GRAFANA_LOGS_CREDENTIAL_FILE)}


def datasource_provisioning(name: str, url: str, auth: StoreAuth = StoreAuth("none"),
                            secret_file: str | None = None, logs: LogsSource | None = None) -> str:
    """The datasource Ray's panels select by name (RAY_PROMETHEUS_NAME), with a fixed uid, and Loki's when
    the stack ships logs.

    `auth` is how Grafana queries a store beyond our Prometheus, its password or token in `secret_file`.
    """
    datasource: dict[str, Any] = {
        "name": name,
        "uid": GRAFANA_DATASOURCE_UID,
        "type": "prometheus",
        "access": "proxy",
        "url": url,
        "isDefault": True,
        "editable": False,
    }
    datasource.update(_static_auth(auth, secret_file))
    if auth.kind == "sigv4":
        if grafana_major() > SIGV4_CORE_LAST_MAJOR:
            raise ValueError(f"{GRAFANA_IMAGE}'s core Prometheus datasource has no SigV4: provision SigV4 stores "
                             "with the Amazon Managed Prometheus datasource plugin before this bump")
        # Stores such as Amazon Managed Prometheus take PromQL by POST.
        datasource["jsonData"] = {"sigV4Auth": True, "sigV4AuthType": "default", "sigV4Region": auth.region,
                                  "httpMethod": "POST",
                                  **({"sigV4AssumeRoleArn": auth.role_arn} if auth.role_arn else {})}
    loki = [logs_datasource(logs)] if logs else []
    return yaml.safe_dump({"apiVersion": 1, "datasources": [datasource, *loki]}, sort_keys=False)


def dashboard_provisioning(path: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": 1,
            "providers": [
                {
                    "name": "ray",
                    "folder": GRAFANA_DASHBOARD_FOLDER,
                    "type": "file",
                    "disableDeletion": True,
                    "allowUiUpdates": False,
                    "updateIntervalSeconds": 30,
                    "options": {"path": path, "foldersFromFilesStructure": False},
                }
            ],
        },
        sort_keys=False,
    )
