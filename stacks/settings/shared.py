"""Settings both platforms read the same way: scrape, retention, sizing, Grafana wiring, alerts."""

from __future__ import annotations

from dataclasses import dataclass

from components.builders.alert_rules import AlertSettings
from components.builders.dashboard_catalogue import UnsupportedRayVersion, dashboards_version, supported_ray_versions
from components.builders.given_secrets import GivenSecrets
from components.builders.ray_head_env import RAY_DEFAULT_CARDINALITY
from components.builders.sizing import Sizing, size
from stacks.settings.alerting import AlertingSettings, read_alerting, severity_overrides
from stacks.settings.reader import Reader
from stacks.settings.remote_store import RemoteStoreSettings, read_remote_store


@dataclass(frozen=True)
class MonitoringSettings:
    """What both platforms configure the same way."""

    scrape_interval: str
    retention_time: str
    ray_nodes: int  # expected number of Ray nodes, head included: drives the sizing
    cardinality_level: str | None  # RAY_metric_cardinality_level on every Ray node; None: Ray's default
    sizing: Sizing  # computed from ray_nodes, scrape_interval and retention_time
    retention_size: str  # explicit, or the sizing's
    datasource_name: str  # Grafana datasource name, given to the Ray head as RAY_PROMETHEUS_NAME
    grafana_iframe_host: str | None  # None: the platform's default (a tunnel address)
    ray_version: str | None  # whose dashboards Grafana serves; None: found from the cluster, else the pinned
    alerts: AlertSettings
    alerting: AlertingSettings
    store: RemoteStoreSettings  # remote write, agent mode, where Grafana queries
    given: GivenSecrets  # the user's own Grafana password and secret key, Ray token; None: generated


def read_monitoring(reader: Reader, *, managed_store: bool = False, node_exporter: bool = False) -> MonitoringSettings:
    """`managed_store`: the platform writes to a store of its own (aws managedPrometheus);
    `node_exporter`: Prometheus also scrapes a node_exporter on every node (aws)."""
    scrape_interval = reader.text("scrapeInterval")
    retention_time = reader.text("retentionTime")
    ray_nodes = reader.number("rayNodes")
    cardinality_level = reader.optional_text("metricCardinalityLevel")
    sizing = size(ray_nodes, scrape_interval, retention_time, node_exporter,
                  cardinality_level or RAY_DEFAULT_CARDINALITY)
    alerting = read_alerting(reader)
    store = read_remote_store(reader, managed_store=managed_store)
    if store.agent and (alerting.deploys_alertmanager or alerting.external_url):
        key = "alertReceivers" if alerting.deploys_alertmanager else "externalAlertmanagerUrl"
        reader.problem(key, "<hidden>", "sends the alerts Prometheus evaluates, and in agent mode (prometheusAgent) "
                       "it evaluates none", f"pulumi config rm {key}; load the alertRules stack output into your "
                       "store's ruler (docs/remote-storage.md)")
    return MonitoringSettings(
        scrape_interval=scrape_interval,
        retention_time=retention_time,
        ray_nodes=ray_nodes,
        cardinality_level=cardinality_level,
        sizing=sizing,
        retention_size=reader.optional_text("retentionSize") or sizing.retention_size,
        datasource_name=reader.text("datasourceName"),
        grafana_iframe_host=reader.optional_text("grafanaIframeHost"),
        ray_version=_ray_version(reader),
        alerts=read_alerts(reader),
        alerting=alerting,
        store=store,
        given=_given_secrets(reader),
    )


def _given_secrets(reader: Reader) -> GivenSecrets:
    """The user's secrets: each must be a Pulumi secret, so it is encrypted in the stack's config and state."""
    values = {}
    for key in ("grafanaAdminPassword", "grafanaSecretKey", "rayAuthToken"):
        value = values[key] = reader.optional_text(key)
        if value is not None and not reader.secret(key):
            reader.problem(key, "<hidden>", "is a credential but not a Pulumi secret",
                           f"pulumi config rm {key}; pulumi config set --secret {key} -- \"$(...)\"")
    if values["rayAuthToken"] is not None and not reader.flag("rayTokenAuth"):
        reader.problem("rayAuthToken", "<hidden>", "is Ray's token, and rayTokenAuth is false",
                       "pulumi config rm rayAuthToken, or pulumi config set rayTokenAuth true")
    return GivenSecrets(values["grafanaAdminPassword"], values["grafanaSecretKey"], values["rayAuthToken"])


def read_alerts(reader: Reader) -> AlertSettings:
    return AlertSettings(
        target_down_for=reader.text("alertTargetDownFor"),
        sustained_for=reader.text("alertFor"),
        object_store_percent=reader.number("alertObjectStorePercent"),
        node_memory_percent=reader.number("alertNodeMemoryPercent"),
        failed_tasks=reader.number("alertFailedTasks"),
        gpu_memory_percent=reader.number("alertGpuMemoryPercent"),
        severity_overrides=severity_overrides(reader),
    )


def _ray_version(reader: Reader) -> str | None:
    """An explicit `rayVersion`, refused unless dashboards were generated for its minor release."""
    value = reader.optional_text("rayVersion")
    if value is None:
        return None
    try:
        dashboards_version(value)
    except UnsupportedRayVersion as error:
        newest = list(supported_ray_versions().values())[-1]
        reader.problem("rayVersion", value, str(error), f"pulumi config set rayVersion {newest}")
        return None
    return value
