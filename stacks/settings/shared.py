"""Settings both platforms read the same way: scrape, retention, sizing, Grafana wiring, alerts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.builders.alert_rules import AlertSettings
from components.builders.grafana_config import UnsupportedRayVersion, dashboards_version, supported_ray_versions
from components.builders.sizing import Sizing, size
from stacks.settings.alerting import AlertingSettings, read_alerting, severity_overrides
from stacks.settings.reader import Reader, at_least, duration, url
from stacks.settings.remote_store import RemoteStoreSettings, read_remote_store

RAY_VERSION_PATTERN = re.compile(r"^\d+\.\d+(\.\d+)?$")
RETENTION_SIZE = re.compile(r"^[1-9]\d*(B|KB|MB|GB|TB|PB|EB)$")


@dataclass(frozen=True)
class MonitoringSettings:
    """What both platforms configure the same way."""

    scrape_interval: str
    retention_time: str
    ray_nodes: int  # expected number of Ray nodes, head included: drives the sizing
    sizing: Sizing  # computed from ray_nodes, scrape_interval and retention_time
    retention_size: str  # explicit, or the sizing's
    datasource_name: str  # Grafana datasource name, given to the Ray head as RAY_PROMETHEUS_NAME
    grafana_iframe_host: str | None  # None: the platform's default (a tunnel address)
    ray_version: str | None  # whose dashboards Grafana serves; None: found from the cluster, else the pinned
    alerts: AlertSettings
    alerting: AlertingSettings
    store: RemoteStoreSettings  # remote write, agent mode, where Grafana queries


def read_monitoring(reader: Reader, managed_store: bool = False) -> MonitoringSettings:
    """`managed_store`: the platform writes to a store of its own (aws managedPrometheus)."""
    scrape_interval = duration(reader, "scrapeInterval", "5s", minimum="1s",
                               because="faster scrapes add load on every Ray node and no information")
    retention_time = duration(reader, "retentionTime", "15d", minimum="2h",
                              because="Prometheus cuts its data into 2-hour blocks; less keeps none")
    ray_nodes = reader.integer("rayNodes", 10, 1, 10_000, 50)
    sizing = size(ray_nodes, scrape_interval, retention_time)
    alerting = read_alerting(reader)
    store = read_remote_store(reader, managed_store)
    if store.agent and (alerting.deploys_alertmanager or alerting.external_url):
        key = "alertReceivers" if alerting.deploys_alertmanager else "externalAlertmanagerUrl"
        reader.problem(key, "<hidden>", "sends the alerts Prometheus evaluates, and in agent mode (prometheusAgent) "
                       "it evaluates none", f"pulumi config rm {key}; load the alertRules stack output into your "
                       "store's ruler (README: Beyond one Prometheus)")
    return MonitoringSettings(
        scrape_interval=scrape_interval,
        retention_time=retention_time,
        ray_nodes=ray_nodes,
        sizing=sizing,
        # Computed unless set: the reader records no default for it.
        retention_size=_retention_size(reader) or sizing.retention_size,
        datasource_name=reader.string("datasourceName", "Prometheus", re.compile(r"^[\w .-]{1,100}$"),
                                      "must be 1-100 letters, digits, spaces, dots, dashes or underscores",
                                      "Prometheus"),
        grafana_iframe_host=url(reader, "grafanaIframeHost", "must be an http(s) URL the browser opens Grafana at, "
                                "with no path", "http://localhost:3000", path_allowed=False),
        ray_version=_ray_version(reader),
        alerts=read_alerts(reader),
        alerting=alerting,
        store=store,
    )


def read_alerts(reader: Reader) -> AlertSettings:
    d = AlertSettings()
    return AlertSettings(
        target_down_for=duration(reader, "alertTargetDownFor", d.target_down_for),
        sustained_for=duration(reader, "alertFor", d.sustained_for),
        object_store_percent=reader.integer("alertObjectStorePercent", d.object_store_percent, 1, 100, 90),
        node_memory_percent=reader.integer("alertNodeMemoryPercent", d.node_memory_percent, 1, 100, 90),
        failed_tasks=reader.integer("alertFailedTasks", d.failed_tasks, 0, 1_000_000, 10),
        gpu_memory_percent=reader.integer("alertGpuMemoryPercent", d.gpu_memory_percent, 1, 100, 95),
        severity_overrides=severity_overrides(reader),
    )


def _retention_size(reader: Reader) -> str | None:
    """Explicit, or None: computed by the sizing (the reader records no default for it)."""
    value = reader.string("retentionSize", None, RETENTION_SIZE,
                          "must be a size such as 512MB or 8GB (units B, KB, MB, GB, TB, PB, EB)", "8GB")
    if value is None:
        return None
    return at_least(reader, "retentionSize", value, "128MB",
                    "Prometheus' write-ahead log alone takes 128MB segments; a smaller cap deletes every block", "8GB")


def _ray_version(reader: Reader) -> str | None:
    """An explicit `rayVersion`, refused unless dashboards were generated for its minor release."""
    value = reader.string("rayVersion", None, RAY_VERSION_PATTERN, "must be a Ray version such as 2.58.1", "2.58.1")
    if value is None:
        return None
    try:
        dashboards_version(value)
    except UnsupportedRayVersion as error:
        newest = list(supported_ray_versions().values())[-1]
        reader.problem("rayVersion", value, str(error), f"pulumi config set rayVersion {newest}")
        return None
    return value
