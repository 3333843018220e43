"""Loki's configuration, the log store the stacks deploy (no Pulumi here): one single-binary Loki, one
tenant, filesystem storage on its volume, retention by the compactor, OTLP logs in with the Ray
collectors' resource attributes as its index labels.

Loki is not built or run here (AGPL): every key below is one Loki 3.7 reads, stated with its source in
tests/components/builders/test_loki_config.py (Loki's pkg/ at v3.7.6 and its documentation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

LOKI_PORT = 3100
LOKI_GRPC_PORT = 9095  # Loki's own components talk over it, in the one process: never reached from outside
LOKI_DATA = "/loki"  # the image's data directory, owned by its user (10001)
LOKI_UID = 10001  # the grafana/loki image's `loki` user (its Dockerfile)
LOKI_CONFIG_NAME = "loki.yaml"
LOKI_CONFIG_FILE = f"/etc/loki/{LOKI_CONFIG_NAME}"
# The schema's first day: a store's schema periods are fixed once written, so this date never changes (a new
# schema is a new period appended with a later date, never an edit).
SCHEMA_FROM = "2024-04-01"
# Resource attributes the collectors set (collector_config.py) that become stream labels: few values each.
INDEX_LABELS = ("ray_io_cluster", "ray_node", "ray_node_type", "ray_component")


# Loki's own defaults (pkg/validation/limits.go), written out so the configuration says what it admits.
INGESTION_RATE_MB = 4
INGESTION_BURST_MB = 6


@dataclass(frozen=True)
class LokiSettings:
    retention: str  # a Prometheus-style duration: 7d, 336h


def loki_config(settings: LokiSettings) -> dict[str, Any]:
    return {
        # One tenant: who may write or read is whoever reaches the port (a NetworkPolicy on Kubernetes, the
        # security group on EC2; docs/logs.md), as for our Prometheus.
        "auth_enabled": False,
        # The collectors and Grafana reach the HTTP port; the platform fences who else does.
        "server": {"http_listen_address": "0.0.0.0", "http_listen_port": LOKI_PORT,
                   "grpc_listen_address": "127.0.0.1", "grpc_listen_port": LOKI_GRPC_PORT, "log_level": "info"},
        "common": {
            "instance_addr": "127.0.0.1",
            "path_prefix": LOKI_DATA,
            "replication_factor": 1,
            "ring": {"kvstore": {"store": "inmemory"}},
            "storage": {"filesystem": {"chunks_directory": f"{LOKI_DATA}/chunks",
                                       "rules_directory": f"{LOKI_DATA}/rules"}},
        },
        "schema_config": {"configs": [{"from": SCHEMA_FROM, "store": "tsdb", "object_store": "filesystem",
                                       "schema": "v13", "index": {"prefix": "index_", "period": "24h"}}]},
        "limits_config": {
            "retention_period": settings.retention,
            "allow_structured_metadata": True,  # OTLP attributes beyond the labels are kept as structured metadata
            "volume_enabled": True,  # Grafana's log volume histogram
            "ingestion_rate_mb": INGESTION_RATE_MB,
            "ingestion_burst_size_mb": INGESTION_BURST_MB,
            "otlp_config": {"resource_attributes": {"attributes_config": [
                {"action": "index_label", "attributes": list(INDEX_LABELS)}]}},
        },
        "compactor": {"working_directory": f"{LOKI_DATA}/compactor", "retention_enabled": True,
                      "delete_request_store": "filesystem"},
        # Loki reports usage to stats.grafana.org unless told not to: nothing leaves the cluster unasked.
        "analytics": {"reporting_enabled": False},
    }


def render(settings: LokiSettings) -> str:
    return yaml.safe_dump(loki_config(settings), sort_keys=False)
