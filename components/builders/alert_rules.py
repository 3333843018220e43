"""Prometheus alert rules for Ray: plain data in, rule file text out (no Pulumi here).

Both stacks load the same file; thresholds and durations come from config. The file's second group holds
the overview's recording rules (components/builders/recording_rules.py), the third those behind Ray's
dashboards (components/builders/ray_dashboard_rules.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from components.builders import recording_rules
from components.constants import PROMETHEUS_CONFIG_DIR

FILE_NAME = "ray-alerts.yml"
DEPLOYED_PATH = f"{PROMETHEUS_CONFIG_DIR}/{FILE_NAME}"  # beside prometheus.yml on both stacks
FAILED_TASKS_WINDOW = "10m"
GPU_IDLE_PERCENT = 5  # a GPU held by Ray below this utilisation...
GPU_IDLE_FOR = "30m"  # ...for this long is paid for and unused


@dataclass(frozen=True)
class AlertSettings:
    target_down_for: str = "2m"
    sustained_for: str = "5m"  # how long a threshold must hold before it fires
    object_store_percent: int = 90
    node_memory_percent: int = 90
    failed_tasks: int = 10  # failed tasks per FAILED_TASKS_WINDOW
    gpu_memory_percent: int = 95
    # (alert name, severity) over a rule's own severity: routes send critical alerts to pages.
    severity_overrides: tuple[tuple[str, str], ...] = ()


def _rule(name: str, expr: str, duration: str, severity: str, summary: str, description: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": description},
    }


def rules(settings: AlertSettings, ray_dashboards: dict[str, Any] | None = None) -> dict[str, Any]:
    """The alert group first, then the overview's recording rules, then `ray_dashboards`: the group behind
    Ray's dashboards as served (components/builders/ray_dashboard_rules.py), where they are served so."""
    alerts = _with_severities(_rules(settings), settings.severity_overrides)
    return {"groups": [*alerts["groups"], recording_rules.group(), *([ray_dashboards] if ray_dashboards else [])]}


def _rules(settings: AlertSettings) -> dict[str, Any]:
    s = settings
    by_node = "ray_io_cluster, instance"
    by_gpu = "ray_io_cluster, instance, GpuIndex"
    return {"groups": [{"name": "ray", "rules": [
        _rule("RayScrapeTargetDown", 'up{job=~"ray.*"} == 0', s.target_down_for, "warning",
              "A Ray metrics endpoint cannot be scraped",
              "{{ $labels.job }} target {{ $labels.instance }} of cluster {{ $labels.ray_io_cluster }} "
              "has been down for " + s.target_down_for + "."),
        _rule("RayHeadMetricsMissing", "absent(ray_cluster_active_nodes)", s.sustained_for, "critical",
              "No Ray head is reporting metrics",
              "ray_cluster_active_nodes (exported by the Ray head) is absent: the head is down or not scraped."),
        _rule("RayObjectStoreFull",
              f"100 * sum by ({by_node}) (ray_object_store_memory)"
              f' / sum by ({by_node}) (ray_resources{{Name="object_store_memory"}}) > {s.object_store_percent}',
              s.sustained_for, "warning", "Ray object store almost full",
              "Object store on {{ $labels.instance }} is {{ $value | humanize }}% full (threshold "
              f"{s.object_store_percent}%): objects will spill to disk."),
        _rule("RayFailedTasksRising",
              f'sum by (ray_io_cluster) (increase(ray_tasks{{State="FAILED"}}[{FAILED_TASKS_WINDOW}]))'
              f" > {s.failed_tasks}",
              "0m", "warning", "Ray tasks are failing",
              "{{ $value | humanize }} tasks failed in the last " + FAILED_TASKS_WINDOW
              + " on cluster {{ $labels.ray_io_cluster }} (threshold " + str(s.failed_tasks) + ")."),
        _rule("RayNodeMemoryHigh",
              f"100 * sum by ({by_node}) (ray_node_mem_used) / sum by ({by_node}) (ray_node_mem_total)"
              f" > {s.node_memory_percent}",
              s.sustained_for, "warning", "Ray node memory almost exhausted",
              "Node {{ $labels.instance }} uses {{ $value | humanize }}% of its memory (threshold "
              f"{s.node_memory_percent}%): Ray's OOM killer will start killing workers."),
        _rule("RayGpuMemoryHigh",
              f"100 * sum by ({by_gpu}) (ray_node_gram_used) / (sum by ({by_gpu}) (ray_node_gram_used)"
              f" + sum by ({by_gpu}) (ray_node_gram_available)) > {s.gpu_memory_percent}",
              s.sustained_for, "warning", "Ray GPU memory almost full",
              "GPU {{ $labels.GpuIndex }} on {{ $labels.instance }} uses {{ $value | humanize }}% of its memory "
              f"(threshold {s.gpu_memory_percent}%): the next allocation may fail with out-of-memory."),
        _rule("RayGpusIdle",
              f"max by ({by_gpu}) (ray_node_gpus_utilization) < {GPU_IDLE_PERCENT}"
              f' and on ({by_node}) (sum by ({by_node}) (ray_resources{{Name="GPU",State="USED"}}) > 0)',
              GPU_IDLE_FOR, "warning", "Ray holds GPUs that do nothing",
              "GPU {{ $labels.GpuIndex }} on {{ $labels.instance }} is allocated to Ray tasks or actors but "
              f"has been under {GPU_IDLE_PERCENT}% busy for {GPU_IDLE_FOR}: it is paid for and idle."),
        _rule("PrometheusScrapeFailing", 'up{job!~"ray.*"} == 0', s.sustained_for, "warning",
              "Prometheus cannot scrape a target",
              "{{ $labels.job }} target {{ $labels.instance }} has failed every scrape for " + s.sustained_for
              + "."),
    ]}]}


def _with_severities(groups: dict[str, Any], overrides: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    chosen = dict(overrides)
    for rule in groups["groups"][0]["rules"]:
        rule["labels"]["severity"] = chosen.get(rule["alert"], rule["labels"]["severity"])
    return groups


def expressions(settings: AlertSettings) -> dict[str, str]:
    return {rule["alert"]: rule["expr"] for rule in rules(settings)["groups"][0]["rules"]}


def render(settings: AlertSettings, ray_dashboards: dict[str, Any] | None = None) -> str:
    return yaml.safe_dump(rules(settings, ray_dashboards), sort_keys=False, width=1000)


ALERT_NAMES = tuple(rule["alert"] for rule in _rules(AlertSettings())["groups"][0]["rules"])
