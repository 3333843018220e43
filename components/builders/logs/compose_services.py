"""The log pipeline on the EC2 nodes, as Compose services (no Pulumi here): the collector on every node,
Loki on the head. Their configuration files are applied beside compose.yaml; each service carries its
file's digest as a label, so a changed file recreates exactly that service on the next `compose up -d`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.builders.checksums import checksum
from components.builders.head_layout import BASE, COLLECTOR_STATE, LOKI_DATA_DIR, RAY_TMP
from components.builders.logs import collector_config, loki_config
from components.builders.logs.collector_config import HOST_NAME_ENV, NODE_TYPE_ENV, CollectorSettings
from components.builders.logs.loki_config import LokiSettings
from components.constants import PROMETHEUS_UID
from components.versions import LOKI_IMAGE, OTEL_COLLECTOR_IMAGE

# Both run as the monitoring services' uid (Prometheus' and Alertmanager's), not their images' 10001: the head's
# apply script gives files only to the uids its boot spec lists, and that spec is the head's user data, which
# a change would replace. Not Ray's uid: a job's code runs as that one.
LOG_SERVICES_UID = PROMETHEUS_UID
COLLECTOR_CONFIG_NAME = "collector.yaml"
COLLECTOR_CONFIG_DIR = f"{BASE}/otelcol"  # on the host; the container sees it at /etc/otelcol
COLLECTOR_CONFIG_FILE = f"{COLLECTOR_CONFIG_DIR}/{COLLECTOR_CONFIG_NAME}"
COLLECTOR_STATE_MOUNT = "/var/lib/otelcol"
# The user's log store's Authorization header (logsAuth), from SSM, beside the configuration: the collector's
# user alone reads it (0400), and no other container mounts the directory.
COLLECTOR_AUTHORIZATION_NAME = "authorization"
COLLECTOR_AUTHORIZATION_FILE = f"{COLLECTOR_CONFIG_DIR}/{COLLECTOR_AUTHORIZATION_NAME}"
LOKI_CONFIG_DIR = f"{BASE}/loki"  # on the host; the container sees it at /etc/loki
LOKI_CONFIG_FILE = f"{LOKI_CONFIG_DIR}/{loki_config.LOKI_CONFIG_NAME}"
DIGEST_LABEL = "ray-monitoring.config-sha256"


@dataclass(frozen=True)
class NodeLogs:
    """A node's collector: its configuration's text and the node's role."""

    config: str
    node_type: str  # head or worker


def collector_yaml(store_url: str, cluster: str, authorization: bool = False) -> str:
    """The configuration every EC2 node's collector runs (Ray's /tmp/ray is mounted where Ray has it);
    `authorization`: the store wants the header in COLLECTOR_AUTHORIZATION_FILE."""
    header = f"/etc/otelcol/{COLLECTOR_AUTHORIZATION_NAME}" if authorization else None
    return collector_config.render(CollectorSettings(store_url=store_url, cluster=cluster,
                                                     storage_dir=COLLECTOR_STATE_MOUNT, node_env=HOST_NAME_ENV,
                                                     authorization_file=header))


def loki_yaml(retention: str) -> str:
    return loki_config.render(LokiSettings(retention=retention))


def collector_service(logs: NodeLogs) -> dict[str, Any]:
    # It reads Ray's files (world-readable, as Ray writes them) and writes only its state directory.
    return {
        "image": OTEL_COLLECTOR_IMAGE, "restart": "unless-stopped", "network_mode": "host",
        "command": [f"--config=/etc/otelcol/{COLLECTOR_CONFIG_NAME}"],
        "user": f"{LOG_SERVICES_UID}:{LOG_SERVICES_UID}",
        "environment": {NODE_TYPE_ENV: logs.node_type},
        "volumes": [f"{COLLECTOR_CONFIG_DIR}:/etc/otelcol:ro", f"{RAY_TMP}:/tmp/ray:ro",
                    f"{COLLECTOR_STATE}:{COLLECTOR_STATE_MOUNT}"],
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "labels": {DIGEST_LABEL: checksum(logs.config)},
        # SIGTERM, then this long to flush its queue's state before Docker kills it.
        "stop_grace_period": "30s",
    }


def loki_service(config: str, memory: str) -> dict[str, Any]:
    """`memory`: the container's cap, as Compose writes it (1g)."""
    return {
        "image": LOKI_IMAGE, "restart": "unless-stopped", "network_mode": "host",
        "command": [f"-config.file={loki_config.LOKI_CONFIG_FILE}"],
        "user": f"{LOG_SERVICES_UID}:{LOG_SERVICES_UID}",
        "volumes": [f"{LOKI_CONFIG_DIR}:/etc/loki:ro", f"{LOKI_DATA_DIR}:{loki_config.LOKI_DATA}"],
        "tmpfs": ["/tmp"],
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "mem_limit": memory,
        "labels": {DIGEST_LABEL: checksum(config)},
    }
