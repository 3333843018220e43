"""The "Ray logs" dashboard, served with `logs` (no Pulumi here): Ray's log lines by cluster, node,
component and job, with a search, from the Loki datasource the stacks provision.

The labels are the collectors' index labels (loki_config.INDEX_LABELS); the job id is structured metadata
(collector_config.py), filtered after the stream selector. Loki refuses a selector whose every matcher
matches the empty string, so "All" stands for `.+`, never `.*`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from components.builders.grafana_dashboard import dashboard_json
from components.constants import GRAFANA_LOGS_DATASOURCE_UID

UID = "rayMonitoringLogs"
TITLE = "Ray logs"
DATASOURCE = {"type": "loki", "uid": GRAFANA_LOGS_DATASOURCE_UID}

STREAM = '{ray_io_cluster=~"$Cluster", ray_node=~"$Node", ray_component=~"$Component"}'
# An empty job box keeps every line (`.*` also matches a line without a job id); the search is a
# case-insensitive regular expression, empty for every line.
FILTERS = '| ray_job_id=~"$Job.*" |~ "(?i)$Search"'
LINES = f"{STREAM} {FILTERS}"
VOLUME = f"sum by (ray_component) (count_over_time({LINES} [$__auto]))"

# What the variables stand for when an expression is parsed outside Grafana.
VARIABLE_DEFAULTS = {"$Cluster": ".+", "$Node": ".+", "$Component": ".+", "$Job": "", "$Search": "",
                     "$__auto": "1m"}


def expressions() -> dict[str, str]:
    """Every LogQL expression of the dashboard by where it is: the panels' and the stream selectors of the
    variables' label_values queries."""
    found = {f"variable {v['name']}": selector.group(1) for v in _variables()
             if v["type"] == "query" and (selector := re.match(r"^label_values\((\{.*\}), \w+\)$", v["query"]))}
    for panel in _panels():
        for target in panel["targets"]:
            found[f"{panel['title']} {target['refId']}"] = target["expr"]
    return found


def _label_variable(name: str, label: str, query: str, description: str) -> dict[str, Any]:
    return {"name": name, "label": label, "type": "query", "datasource": DATASOURCE, "description": description,
            "query": query, "includeAll": True, "allValue": ".+", "multi": True, "refresh": 2, "sort": 1,
            "current": {"text": ["All"], "value": ["$__all"]}, "options": [], "hide": 0}


def _text_variable(name: str, label: str, description: str) -> dict[str, Any]:
    return {"name": name, "label": label, "type": "textbox", "description": description, "query": "",
            "current": {"text": "", "value": ""}, "options": [], "hide": 0}


def _variables() -> list[dict[str, Any]]:
    return [
        _label_variable("Cluster", "Cluster", "label_values(ray_io_cluster)",
                        "Ray cluster (ray_io_cluster, as on the metrics)."),
        _label_variable("Node", "Node", 'label_values({ray_io_cluster=~"$Cluster"}, ray_node)',
                        "Ray node: the EC2 instance's host name, or the pod's name."),
        _label_variable("Component", "Component",
                        'label_values({ray_io_cluster=~"$Cluster", ray_node=~"$Node"}, ray_component)',
                        "The file's component: raylet, gcs_server, worker, job_driver ..."),
        _text_variable("Job", "Job id", "A Ray job id (02000000): the lines of that job's workers and driver."),
        _text_variable("Search", "Search", "A regular expression the line must match, case-insensitive."),
    ]


def _panels() -> list[dict[str, Any]]:
    volume = {
        "id": 1, "type": "timeseries", "title": "Lines by component",
        "description": "Log lines a minute, by the component that wrote them, after the filters above.",
        "datasource": DATASOURCE, "gridPos": {"h": 7, "w": 24, "x": 0, "y": 0},
        "fieldConfig": {"defaults": {"unit": "short", "custom": {"drawStyle": "bars", "fillOpacity": 60,
                                                                 "stacking": {"mode": "normal"}}},
                        "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": VOLUME, "legendFormat": "{{ray_component}}",
                     "queryType": "range"}],
    }
    lines = {
        "id": 2, "type": "logs", "title": "Log lines",
        "description": "Newest first. Each line's details show its node, component, file, job and worker.",
        "datasource": DATASOURCE, "gridPos": {"h": 20, "w": 24, "x": 0, "y": 7},
        "options": {"showTime": True, "wrapLogMessage": True, "enableLogDetails": True, "sortOrder": "Descending",
                    "dedupStrategy": "none", "showLabels": False, "showCommonLabels": False,
                    "prettifyLogMessage": False},
        "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": LINES, "queryType": "range", "maxLines": 1000}],
    }
    return [volume, lines]


def dashboard() -> dict[str, Any]:
    return dashboard_json(UID, TITLE, "Ray's log files from every node: raylet, GCS, dashboard, workers and job "
                          "drivers.", ["ray", "ray-monitoring", "logs"], _variables(), _panels())


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"
