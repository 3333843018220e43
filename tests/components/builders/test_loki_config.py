"""Loki's configuration, checked against what Loki 3.7 documents and does (Loki is AGPL: not built or run
here). Each fact names its source: Loki's repository at v3.7.6 (the minor the pinned image's 3.7.8 is a patch
of), read at that tag."""

from __future__ import annotations

import yaml

from components.builders.logs import collector_config, loki_config
from components.builders.logs.loki_config import INDEX_LABELS, LokiSettings
from components.versions import LOKI_IMAGE

# docs/sources/shared/configuration.md at v3.7.6: the keys this project sets, by block (each is a field there).
LOKI_3_7_KEYS = {
    "": {"auth_enabled", "server", "common", "schema_config", "limits_config", "compactor", "analytics"},
    "server": {"http_listen_address", "http_listen_port", "grpc_listen_address", "grpc_listen_port", "log_level"},
    "common": {"instance_addr", "path_prefix", "replication_factor", "ring", "storage"},
    "limits_config": {"retention_period", "allow_structured_metadata", "volume_enabled", "ingestion_rate_mb",
                      "ingestion_burst_size_mb", "otlp_config"},
    "compactor": {"working_directory", "retention_enabled", "delete_request_store"},
    "analytics": {"reporting_enabled"},
}


def config() -> dict:
    return yaml.safe_load(loki_config.render(LokiSettings(retention="7d")))


def test_every_key_is_one_loki_3_7_documents():
    rendered = config()
    assert LOKI_IMAGE.startswith("grafana/loki:3.7."), "a new Loki minor: re-read its configuration reference"
    for block, keys in LOKI_3_7_KEYS.items():
        section = rendered[block] if block else rendered
        unknown = sorted(set(section) - keys)
        assert not unknown, f"{block or 'top level'}: {unknown} not in Loki 3.7's reference"


def test_loki_refuses_retention_without_a_delete_request_store():
    # pkg/compactor/config.go, Validate: "compactor.delete-request-store should be configured when retention
    # is enabled"; retention is the compactor's (retention_enabled), limits_config.retention_period says how long.
    compactor = config()["compactor"]
    assert compactor["retention_enabled"] is True
    assert compactor["delete_request_store"] == "filesystem"
    assert config()["limits_config"]["retention_period"] == "7d"  # a model.Duration: Prometheus' units, d included


def test_otlp_index_labels_come_from_resource_attributes_only():
    # pkg/loghttp/push/otlp_config.go: index_label is an action for resource attributes only (log and scope
    # attributes become structured metadata or are dropped); the collector therefore sets exactly these as
    # resource attributes, and the rest (job id, pid, file) as log attributes.
    (rule,) = config()["limits_config"]["otlp_config"]["resource_attributes"]["attributes_config"]
    assert rule == {"action": "index_label", "attributes": list(INDEX_LABELS)}
    receiver = collector_config.collector_config(collector_config.CollectorSettings(
        store_url="http://loki:3100/otlp", cluster="c", storage_dir="/var/lib/otelcol"))["receivers"]["file_log"]
    set_on_resource = set(receiver["resource"]) | {"ray_component"}  # the component: an operator sets it per file
    assert set(INDEX_LABELS) <= set_on_resource
    # Loki's defaults (default_resource_attributes_as_index_labels) stay on: service.name is one of them.
    assert "ignore_defaults" not in config()["limits_config"]["otlp_config"]["resource_attributes"]
    assert receiver["resource"]["service.name"] == "ray"


def test_structured_metadata_needs_the_v13_tsdb_schema():
    # docs/sources/send-data/otel/_index.md: OTLP ingestion stores attributes as structured metadata;
    # docs/sources/operations/troubleshooting/troubleshoot-operations.md ("Schema v13 required for structured
    # metadata"): Loki refuses to start with it on an older schema.
    rendered = config()
    (period,) = rendered["schema_config"]["configs"]
    assert (period["store"], period["schema"], period["object_store"]) == ("tsdb", "v13", "filesystem")
    assert period["from"] == loki_config.SCHEMA_FROM == "2024-04-01"  # fixed forever: a store's periods never move
    assert rendered["limits_config"]["allow_structured_metadata"] is True


def test_the_image_runs_as_uid_10001_with_its_data_in_slash_loki():
    # cmd/loki/Dockerfile at v3.7.6: USER 10001, /loki owned by 10001, port 3100, the config path the
    # CMD names is /etc/loki/local-config.yaml (the stacks pass their own with -config.file).
    assert loki_config.LOKI_UID == 10001
    assert config()["common"]["path_prefix"] == loki_config.LOKI_DATA == "/loki"
    assert config()["server"]["http_listen_port"] == loki_config.LOKI_PORT == 3100


def test_nothing_leaves_for_grafanas_usage_statistics():
    # cmd/loki/loki-docker-config.yaml at v3.7.6: Loki reports usage to stats.grafana.org unless
    # analytics.reporting_enabled is false.
    assert config()["analytics"] == {"reporting_enabled": False}


def test_its_grpc_port_listens_on_the_loopback_only():
    # One process (the single binary's `all` target): its components' gRPC stays inside it.
    assert config()["server"]["grpc_listen_address"] == "127.0.0.1"
