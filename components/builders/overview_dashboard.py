"""The project's own "Ray Cluster Overview" dashboard: plain data in, dashboard JSON out.

Only metric names Ray 2.60 really exports (measured from a live head, or for GPUs read from Ray's own
generated panels, since a CPU-only machine never emits them; see docs/alerting.md). Every query
is listed by `expressions()`, which the tests evaluate against a real Prometheus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from components.builders.grafana_dashboard import dashboard_json
from components.builders.logs.dashboard import UID as LOGS_UID
from components.builders.recording_rules import OBJECT_STORE_BY_NODE, TASKS_BY_STATE

UID = "rayMonitoringOverview"
TITLE = "Ray Cluster Overview"

# Selectors shared by every Ray query: the cluster, the Ray session and, for node metrics, the node.
RAY = 'ray_io_cluster=~"$Cluster",SessionName=~"$SessionName"'
NODE = f'{RAY},instance=~"$Instance"'
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# Where logs are served (components/builders/logs/dashboard.py): the Ray logs dashboard, for the same
# cluster and time range; its Cluster variable is named as this one's. dashboard_catalogue drops the
# panels' links where the stack ships no logs; the dashboards link (by tag) then finds nothing to show.
# Grafana's DashboardLink (its schema: every field, for panel links too).
WORKER_LOGS = {"title": "Logs of this cluster's workers and job drivers", "type": "link",
               "url": f"/d/{LOGS_UID}/ray-logs?${{Cluster:queryparam}}&var-Component=worker&var-Component=job_driver"
                      "&${__url_time_range}",
               "tooltip": "Ray logs: the lines of this cluster's task and actor workers and job drivers",
               "icon": "doc", "tags": [], "asDropdown": False, "includeVars": False, "keepTime": False,
               "targetBlank": False}
# A node series' own lines: Grafana's data link fills in the series' `log_node` (by_node below).
NODE_LOGS = {"title": "Logs of ${__field.labels.instance}",
             "url": f"/d/{LOGS_UID}/ray-logs?${{Cluster:queryparam}}&var-Node=${{__field.labels.log_node}}"
                    "&${__url_time_range}",
             "targetBlank": False}
LOGS_LINK = {"title": "Ray logs", "type": "dashboards", "url": "", "tooltip": "", "icon": "doc",
             "tags": ["ray-monitoring", "logs"], "asDropdown": False, "includeVars": True, "keepTime": True,
             "targetBlank": False}

# The keys a node panel aggregates by: the scrape address its legend shows, and what names the node's lines.
NODE_KEYS = "instance, ip, pod"


def by_node(expr: str) -> str:
    """`expr` (aggregated by NODE_KEYS) with `log_node`, the node named as its log collector names it
    (collector_config.py): on Kubernetes the pod (the scrape's `pod`), on EC2 the host name EC2 gives an
    instance by its private IPv4, `ip-10-0-1-23` (its default hostname type), from the `ip` Ray's node agent
    sets on node metrics (dashboard/modules/reporter/reporter_agent.py, node_tags)."""
    host = f'label_replace({expr}, "log_node", "ip-$1-$2-$3-$4", "ip", "([0-9]+)[.]([0-9]+)[.]([0-9]+)[.]([0-9]+)")'
    return f'label_replace({host}, "log_node", "$1", "pod", "(.+)")'


# How many nodes a per-node panel draws: those whose own measure averaged highest over the time range. At
# 1,000 nodes a panel of every node answered 1,000 lines of 241 points and took 1.9 s under load
# (docs/sizing.md); ten lines cost what ten lines cost. A cluster of up to ten nodes sees every node, as before;
# "All" draws every node, and the Node variable picks any node.
TOP_NODES = ("10", "25", "100")
ALL_NODES = "100000"  # topk's k at "All": more nodes than one Prometheus serves


def top_nodes(expr: str, metric: str) -> str:
    """`expr`'s lines (by instance) of the $Nodes nodes whose `metric` averaged highest over the dashboard's
    range: ranked once per query (`@ end()`), so the lines are the same nodes across the whole range."""
    ranked = f"max by (instance) (avg_over_time({metric}{{{NODE}}}[$__range] @ end()))"
    return f"{expr} and on (instance) topk($Nodes, {ranked})"


# What the dashboard's variables stand for when an expression is evaluated outside Grafana.
VARIABLE_DEFAULTS = {"$Cluster": ".*", "$SessionName": ".+", "$Instance": ".+", "$Nodes": TOP_NODES[0],
                     "$__rate_interval": "1m", "$__range": "1h"}


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str
    kind: str = "timeseries"  # timeseries | stat
    width: int = 12
    thresholds: tuple[tuple[str, float | None], ...] = (("green", None),)
    options: dict[str, Any] = field(default_factory=dict)
    core: bool = False  # returns data after any Ray workload (checked live)
    logs: bool = False  # links to the lines of the cluster's workers and job drivers (served with logs)
    node_logs: bool = False  # each series links to its node's lines (served with logs; by_node's queries)


PANELS: tuple[Panel, ...] = (
    Panel("Active nodes", "Ray nodes the GCS reports alive.",
          (Query(f"sum(ray_cluster_active_nodes{{{RAY}}})", "nodes"),), "none", kind="stat", width=6,
          thresholds=(("red", None), ("green", 1))),
    # Per job, not per target: one tile per target cost 1.9 s and drew 1,000 tiles at 1,000 nodes
    # (docs/sizing.md). The RayScrapeTargetDown alert and Prometheus' Targets page name the target.
    Panel("Scrape health", "Targets Prometheus scraped at its last attempt, and those it failed to, per job.",
          (Query('sum by (job) (up{ray_io_cluster=~"$Cluster"})', "{{job}} up"),
           Query('count by (job) (up{ray_io_cluster=~"$Cluster"} == 0)', "{{job}} down")),
          "none", kind="stat", width=18,
          options={"overrides": [{"matcher": {"id": "byRegexp", "options": ".* down"},
                                  "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}]}]}),
    Panel("CPU utilisation per node", "Share of the node's CPUs in use.",
          (Query(top_nodes(by_node(f"max by ({NODE_KEYS}) (ray_node_cpu_utilization{{{NODE}}})"),
                           "ray_node_cpu_utilization"), "{{instance}}"),),
          "percent", thresholds=(("green", None), ("orange", 80), ("red", 95)), core=True, node_logs=True),
    Panel("Memory per node", "Memory used and still available on each node.",
          (Query(top_nodes(by_node(f"sum by ({NODE_KEYS}) (ray_node_mem_used{{{NODE}}})"), "ray_node_mem_used"),
                 "used {{instance}}"),
           Query(top_nodes(by_node(f"sum by ({NODE_KEYS}) (ray_node_mem_available{{{NODE}}})"), "ray_node_mem_used"),
                 "available {{instance}}")),
          "bytes", core=True, node_logs=True),
    Panel("Network per node", "Bytes per second sent and received.",
          (Query(top_nodes(by_node(f"sum by ({NODE_KEYS}) (ray_node_network_send_speed{{{NODE}}})"),
                           "ray_node_network_send_speed"), "sent {{instance}}"),
           Query(top_nodes(by_node(f"sum by ({NODE_KEYS}) (ray_node_network_receive_speed{{{NODE}}})"),
                           "ray_node_network_send_speed"),
                 "received {{instance}}")),
          "Bps", node_logs=True),
    Panel("Disk I/O per node", "Bytes per second read and written.",
          (Query(top_nodes(by_node(f"sum by ({NODE_KEYS}) (ray_node_disk_io_read_speed{{{NODE}}})"),
                           "ray_node_disk_io_read_speed"), "read {{instance}}"),
           Query(top_nodes(by_node(f"sum by ({NODE_KEYS}) (ray_node_disk_io_write_speed{{{NODE}}})"),
                           "ray_node_disk_io_read_speed"), "written {{instance}}")),
          "Bps", node_logs=True),
    Panel("Tasks by state", "Tasks not yet finished, by scheduling state.",
          (Query(f'sum by (State) ({TASKS_BY_STATE.name}{{{RAY},State!~"FINISHED|FAILED"}})', "{{State}}"),),
          "none", core=True, logs=True),
    Panel("Finished and failed tasks per second", "Rate of tasks reaching FINISHED or FAILED.",
          (Query(f'sum by (State) (rate(ray_tasks{{{RAY},State=~"FINISHED|FAILED"}}[$__rate_interval]))',
                 "{{State}}"),),
          "ops", options={"overrides": [{"matcher": {"id": "byName", "options": "FAILED"},
                                          "properties": [{"id": "color", "value": {"mode": "fixed",
                                                                                  "fixedColor": "red"}}]}]},
          logs=True),
    Panel("Actors by state", "Actors by lifecycle state, as the GCS counts them (executor counts "
          "would count each actor again).",
          (Query(f'sum by (State) (ray_actors{{{RAY},Source="gcs"}})', "{{State}}"),), "none", core=True,
          logs=True),
    Panel("Object store used vs capacity", "Shared-memory object store per node: bytes held (in memory or "
          "spilled) against the store's capacity.",
          (Query(top_nodes(f"sum by (instance) ({OBJECT_STORE_BY_NODE.name}{{{NODE}}})", OBJECT_STORE_BY_NODE.name),
                 "used {{instance}}"),
           Query(top_nodes(f'sum by (instance) (ray_resources{{{NODE},Name="object_store_memory"}})',
                           OBJECT_STORE_BY_NODE.name), "capacity {{instance}}")),
          "bytes", core=True),
    # GPUs: empty on CPU-only clusters (Ray emits these only where it sees a GPU).
    Panel("GPU utilisation per GPU", "Each GPU's utilisation, as Ray's node agent reads it.",
          (Query(top_nodes(by_node(f"max by ({NODE_KEYS}, GpuIndex) (ray_node_gpus_utilization{{{NODE}}})"),
                           "ray_node_gpus_utilization"), "{{instance}} GPU {{GpuIndex}}"),),
          "percent", thresholds=(("red", None), ("orange", 5), ("green", 30)), node_logs=True),
    Panel("GPU memory used vs total", "GPU memory per node (Ray reports megabytes).",
          (Query(top_nodes(by_node(f"sum by ({NODE_KEYS}) (ray_node_gram_used{{{NODE}}})"), "ray_node_gram_used"),
                 "used {{instance}}"),
           Query(top_nodes(by_node(f"sum by ({NODE_KEYS}) (ray_node_gram_used{{{NODE}}}) + sum by ({NODE_KEYS}) "
                                   f"(ray_node_gram_available{{{NODE}}})"), "ray_node_gram_used"),
                 "total {{instance}}")),
          "decmbytes", node_logs=True),
    Panel("GPUs in use vs available", "GPUs Ray's tasks and actors hold, against the cluster's GPUs.",
          (Query(f'sum(ray_resources{{{RAY},Name="GPU",State="USED"}})', "in use"),
           Query(f'sum(ray_resources{{{RAY},Name="GPU"}})', "available")),
          "none"),
)


def expressions(panels: tuple[Panel, ...] = PANELS) -> dict[str, str]:
    """Panel title (with the query's position) -> PromQL, as written in the dashboard."""
    found = {}
    for panel in panels:
        for index, query in enumerate(panel.queries):
            found[f"{panel.title} #{index}"] = query.expr
    return found


def _variable(name: str, label: str, query: str, all_value: str, description: str) -> dict[str, Any]:
    return {
        "name": name, "label": label, "type": "query", "datasource": DATASOURCE, "description": description,
        "query": {"query": query, "refId": f"{name}-query"},
        "includeAll": True, "allValue": all_value, "multi": True, "refresh": 2, "sort": 1,
        "current": {"text": ["All"], "value": ["$__all"]}, "options": [], "hide": 0,
    }


def _nodes_shown() -> dict[str, Any]:
    """How many nodes the per-node panels draw (top_nodes); Grafana's custom variable, `text : value` pairs."""
    options = [(f"top {n}", n) for n in TOP_NODES] + [("All", ALL_NODES)]
    return {
        "name": "Nodes", "label": "Nodes shown", "type": "custom", "hide": 0, "multi": False, "includeAll": False,
        "description": "Per-node panels draw the nodes whose own measure averaged highest over the time range.",
        "query": ", ".join(f"{text} : {value}" for text, value in options),
        "current": {"text": options[0][0], "value": options[0][1]},
        "options": [{"text": text, "value": value, "selected": i == 0} for i, (text, value) in enumerate(options)],
    }


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    steps = [{"color": color, "value": value} for color, value in panel.thresholds]
    defaults: dict[str, Any] = {"unit": panel.unit, "thresholds": {"mode": "absolute", "steps": steps}}
    if panel.kind == "timeseries":
        defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                              "thresholdsStyle": {"mode": "off" if len(steps) == 1 else "line"}}
        options = {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                              "calcs": ["lastNotNull", "max"]},
                   "tooltip": {"mode": "multi", "sort": "desc"}}
    else:
        defaults["color"] = {"mode": "thresholds"}
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                   "colorMode": "background", "graphMode": "none", "textMode": "value_and_name",
                   "justifyMode": "auto", "orientation": "auto"}
    if "mappings" in panel.options:
        defaults["mappings"] = panel.options["mappings"]
    if panel.node_logs:
        defaults["links"] = [dict(NODE_LOGS)]
    return {
        "id": panel_id, "type": panel.kind, "title": panel.title, "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 4 if panel.kind == "stat" else 8, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": panel.options.get("overrides", [])},
        "options": options,
        "targets": [{"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": q.expr,
                     "legendFormat": q.legend, "range": True} for i, q in enumerate(panel.queries)],
        "links": [dict(WORKER_LOGS)] if panel.logs else [],
    }


def dashboard() -> dict[str, Any]:
    panels, x, y, row_height = [], 0, 0, 0
    for panel_id, panel in enumerate(PANELS, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        built = _panel(panel, panel_id, x, y)
        panels.append(built)
        x += panel.width
        row_height = max(row_height, built["gridPos"]["h"])
    metric = "ray_node_cpu_utilization"
    variables = [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "hide": 0, "options": [], "refresh": 1, "includeAll": False, "multi": False,
         "description": "The Prometheus datasource (RAY_PROMETHEUS_NAME)."},
        _variable("Cluster", "Cluster", f"label_values({metric}, ray_io_cluster)", ".*",
                  "Ray cluster (the ray_io_cluster label the scrape configuration adds)."),
        _variable("SessionName", "Session", f'label_values({metric}{{ray_io_cluster=~"$Cluster"}}, SessionName)',
                  ".+", "Ray session: a new one starts with every `ray start` of the head."),
        _variable("Instance", "Node", f"label_values({metric}{{{RAY}}}, instance)", ".+",
                  "Ray node (scrape address)."),
        _nodes_shown(),
    ]
    return dashboard_json(UID, TITLE, "What to look at first: node resources, tasks, actors, object store, scrape "
                          "health.", ["ray", "ray-monitoring"], variables, panels, links=[dict(LOGS_LINK)])


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"
