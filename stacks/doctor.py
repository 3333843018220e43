"""The `doctor` stack output: what `python -m doctor --stack NAME` expects of a deployed stack."""

from __future__ import annotations

from typing import Any

import pulumi

from stacks.settings import MonitoringSettings


def doctor_expectations(m: MonitoringSettings, iframe_host: pulumi.Input[str], memory_limit: str,
                        node_exporter: bool, restart_command: pulumi.Input[str], dashboards_version: str,
                        logs: bool, managed_store: bool = False, logs_from: str = "") -> dict[str, Any]:
    """`logs_from`: label matchers of the nodes that ship their logs when not all do (doctor/logs.py)."""
    return {
        "rayDashboardsVersion": dashboards_version,  # the dashboards (and their uids) Grafana serves
        "datasourceName": m.datasource_name,
        "iframeHost": iframe_host,
        "rayNodes": m.ray_nodes,
        "scrapeInterval": m.scrape_interval,
        "retentionTime": m.retention_time,
        "prometheusMemoryLimit": memory_limit,
        "nodeExporter": node_exporter,
        "restartCommand": restart_command,
        "remoteWrites": len(m.store.writes) + managed_store,
        "prometheusAgent": m.store.agent,
        "logs": logs,  # the nodes ship Ray's logs: the doctor checks they arrive
        **({"logsFrom": logs_from} if logs_from else {}),
    }
