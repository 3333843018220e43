"""The aws head's monitoring configuration as files the head applies in place (no Pulumi here).

Everything that changes with a setting (prometheus.yml, rules, Grafana's files, dashboards, the
Compose file) is an S3 object listed in one manifest with its sha256, owner, mode and the reload it
needs; secrets are SSM SecureStrings listed by name and version. The head's user-data only
bootstraps, so changing a setting rewrites objects, not the instance. scripts/apply_config.py reads it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.builders import grafana_tls
from components.builders.alert_rules import FILE_NAME as ALERT_RULES_FILE
from components.builders.alertmanager_config import FILE_NAME as ALERTMANAGER_FILE
from components.builders.deferred import Deferred
from components.builders.head_layout import (
    ALERTMANAGER_SECRETS,
    BASE,
    DATA_DEVICE_FILE,
    DIRECTORIES,
    ENV_FILE,
    GRAFANA_CONFIG,
    GRAFANA_PASSWORD_FILE,
    GRAFANA_TLS,
    GRAFANA_TLS_SECRETS,
    MOUNT_DATA_SCRIPT,
    RAY_AUTH_TOKEN_FILE,
    RAY_HEADERS_FILE,
    REMOTE_WRITE_SECRETS,
    SERIAL_FILE,
)
from components.builders.logs.compose_services import (
    COLLECTOR_AUTHORIZATION_FILE,
    COLLECTOR_CONFIG_FILE,
    LOG_SERVICES_UID,
    LOKI_CONFIG_FILE,
)
from components.constants import (
    GRAFANA_DATASOURCE_CREDENTIAL,
    GRAFANA_LOGS_CREDENTIAL,
    GRAFANA_PORT,
    GRAFANA_SECRET_KEY,
    GRAFANA_UID,
    PROMETHEUS_UID,
    RAY_UID,
)

APPLY_SCRIPT = (Path(__file__).parent / "scripts" / "apply_config.py").read_text()
PREFIX = "config/"  # S3 key prefix: the head's role reads only below it
MANIFEST_KEY = f"{PREFIX}manifest.json"
STATE_FILE = "/var/lib/ray-monitoring/applied.json"

# Reloads (see scripts/apply_config.py): what a changed file needs, and no more.
COMPOSE = "compose"
PROMETHEUS = "prometheus"
ALERTMANAGER = "alertmanager"
GRAFANA_DATASOURCES = "grafana-datasources"
GRAFANA_DASHBOARDS = "grafana-dashboards"
GRAFANA_RESTART = "grafana-restart"
GRAFANA_TLS_RELOAD = "grafana-tls"  # SIGHUP: nginx rereads its configuration, certificate and key
RAY_HEAD_RESTART = "ray-head-restart"
LOG_COLLECTOR_RESTART = "log-collector-restart"


@dataclass(frozen=True)
class ConfigFile:
    path: str  # absolute, on the head
    content: Deferred  # an Output until deployed when it waits for a resource (the AMP endpoint)
    reload: str
    mode: str = "0644"
    uid: int = 0

    @property
    def key(self) -> str:
        return PREFIX + self.path.removeprefix(f"{BASE}/")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content.encode()).hexdigest()


@dataclass(frozen=True)
class SecretFile:
    parameter: str  # SSM SecureString name; its value never leaves SSM but for this file
    path: str
    reload: str
    uid: int
    mode: str = "0400"


@dataclass(frozen=True)
class HeadFiles:
    compose_yaml: str
    prometheus_yml: Deferred
    alert_rules_yml: str
    grafana_ini: str
    datasources_yaml: Deferred
    dashboard_providers_yaml: str
    dashboards: dict[str, str]  # file name -> JSON
    grafana_tls_conf: str | None = None  # the TLS terminator's conf.d file, when Grafana is served over HTTPS
    # The log collector's and Loki's configuration, when the head runs them: their Compose services carry the
    # files' digests, so `compose up -d` recreates exactly the one whose file changed.
    collector_yaml: str | None = None
    loki_yaml: str | None = None


def config_files(files: HeadFiles) -> list[ConfigFile]:
    return [
        ConfigFile(f"{BASE}/compose.yaml", files.compose_yaml, COMPOSE),
        ConfigFile(f"{BASE}/prometheus/prometheus.yml", files.prometheus_yml, PROMETHEUS),
        ConfigFile(f"{BASE}/prometheus/{ALERT_RULES_FILE}", files.alert_rules_yml, PROMETHEUS),
        ConfigFile(f"{GRAFANA_CONFIG}/grafana.ini", files.grafana_ini, GRAFANA_RESTART),
        ConfigFile(f"{BASE}/grafana/provisioning/datasources/datasources.yaml", files.datasources_yaml,
                   GRAFANA_DATASOURCES),
        ConfigFile(f"{BASE}/grafana/provisioning/dashboards/dashboards.yaml", files.dashboard_providers_yaml,
                   GRAFANA_DASHBOARDS),
        *(ConfigFile(f"{BASE}/dashboards/{name}", content, GRAFANA_DASHBOARDS)
          for name, content in sorted(files.dashboards.items())),
        *([ConfigFile(f"{GRAFANA_TLS}/{grafana_tls.CONF_FILE}", files.grafana_tls_conf, GRAFANA_TLS_RELOAD)]
          if files.grafana_tls_conf else []),
        *([ConfigFile(COLLECTOR_CONFIG_FILE, files.collector_yaml, COMPOSE)] if files.collector_yaml else []),
        *([ConfigFile(LOKI_CONFIG_FILE, files.loki_yaml, COMPOSE)] if files.loki_yaml else []),
    ]


# Each secret's file on the head (an SSM SecureString, read with the head's role): who reads it and
# what reloads it. `parameter` is the SecureString's name.

def grafana_password(parameter: str) -> SecretFile:
    return SecretFile(parameter, GRAFANA_PASSWORD_FILE, GRAFANA_RESTART, GRAFANA_UID)


def grafana_secret_key(parameter: str) -> SecretFile:
    return SecretFile(parameter, f"{BASE}/secrets/{GRAFANA_SECRET_KEY}", GRAFANA_RESTART, GRAFANA_UID)


def grafana_tls_file(parameter: str, file_name: str) -> SecretFile:
    # Read by nginx's master, as root.
    return SecretFile(parameter, f"{GRAFANA_TLS_SECRETS}/{file_name}", GRAFANA_TLS_RELOAD, 0)


def alertmanager_config(parameter: str) -> SecretFile:
    return SecretFile(parameter, f"{ALERTMANAGER_SECRETS}/{ALERTMANAGER_FILE}", ALERTMANAGER, PROMETHEUS_UID)


def remote_write_credential(parameter: str, file_name: str) -> SecretFile:
    # Prometheus reads password_file/credentials_file on every request: a SIGHUP is more than enough.
    return SecretFile(parameter, f"{REMOTE_WRITE_SECRETS}/{file_name}", PROMETHEUS, PROMETHEUS_UID)


def datasource_credential(parameter: str) -> SecretFile:
    # Read through $__file{} when Grafana provisions the datasource.
    return SecretFile(parameter, f"{BASE}/secrets/{GRAFANA_DATASOURCE_CREDENTIAL}", GRAFANA_DATASOURCES, GRAFANA_UID)


def logs_credential(parameter: str) -> SecretFile:
    # Grafana's password or token for the user's Loki (logsUrl), read through $__file{} as it provisions.
    return SecretFile(parameter, f"{BASE}/secrets/{GRAFANA_LOGS_CREDENTIAL}", GRAFANA_DATASOURCES, GRAFANA_UID)


def logs_authorization(parameter: str) -> SecretFile:
    # The collector reads the log store's header from its file (the file provider) as it starts.
    return SecretFile(parameter, COLLECTOR_AUTHORIZATION_FILE, LOG_COLLECTOR_RESTART, LOG_SERVICES_UID)


def ray_auth_token(parameter: str) -> SecretFile:
    # Ray reads its token as it starts.
    return SecretFile(parameter, RAY_AUTH_TOKEN_FILE, RAY_HEAD_RESTART, RAY_UID)


def ray_query_headers(parameter: str) -> SecretFile:
    return SecretFile(parameter, RAY_HEADERS_FILE, RAY_HEAD_RESTART, RAY_UID)


def manifest(files: list[ConfigFile], secrets: list[tuple[SecretFile, int]], iframe_host: str | None,
             public: bool) -> str:
    """The manifest object. A secret's version is in it, so a new value changes the manifest too."""
    return json.dumps({
        "files": [{"path": f.path, "key": f.key, "sha256": f.sha256, "mode": f.mode, "uid": f.uid,
                   "reload": f.reload} for f in files],
        "secrets": [{"parameter": s.parameter, "version": version, "path": s.path, "mode": s.mode, "uid": s.uid,
                     "reload": s.reload} for s, version in secrets],
        "directories": DIRECTORIES,
        # The browser's Grafana URL: fixed, the head's public name (from instance metadata), or a tunnel.
        "iframe": {"host": iframe_host, "public": public, "port": GRAFANA_PORT},
        "env_file": {"path": ENV_FILE, "mode": "0644", "uid": 0, "reload": COMPOSE},
    }, indent=1, sort_keys=True)


# What a manifest may name: paths under the head's own trees, owned by root or one of its services.
ALLOWED_ROOTS = (BASE, "/var/lib/ray-monitoring")
ALLOWED_UIDS = (0, GRAFANA_UID, PROMETHEUS_UID, RAY_UID)


def sign(manifest_text: str, key: str) -> str:
    """The manifest's signature (HMAC-SHA256, hex): the head applies only a manifest it verifies with
    the key it reads from SSM, so write access to the bucket alone cannot change the head."""
    return hmac.new(key.encode(), manifest_text.encode(), hashlib.sha256).hexdigest()


def with_serial(manifest_text: str, serial: int) -> str:
    """The manifest with its serial: the version of the SSM parameter that holds its digest, which SSM raises
    with every new manifest, so the head can refuse an older one."""
    return json.dumps({**json.loads(manifest_text), "serial": serial}, indent=1, sort_keys=True)


def digest(manifest_text: str) -> str:
    return hashlib.sha256(manifest_text.encode()).hexdigest()


def apply_spec(region: str, bucket: str, signing_key_parameter: str) -> dict[str, Any]:
    """What the head's apply script is told at boot: where to look and what it may write, nothing
    that changes with a setting."""
    return {"region": region, "bucket": bucket, "manifest_key": MANIFEST_KEY, "base": BASE, "state": STATE_FILE,
            "grafana_url": f"http://127.0.0.1:{GRAFANA_PORT}", "grafana_password_file": GRAFANA_PASSWORD_FILE,
            "data_device_file": DATA_DEVICE_FILE, "mount_data": ["bash", MOUNT_DATA_SCRIPT],
            "serial_file": SERIAL_FILE,
            "signing_key_parameter": signing_key_parameter,
            "allowed_roots": list(ALLOWED_ROOTS), "allowed_uids": list(ALLOWED_UIDS)}
