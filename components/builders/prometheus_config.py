"""prometheus.yml for both platforms: plain data in, YAML text out (no Pulumi here).

Kubernetes discovers Ray pods through the API server; EC2 reads the discovery file Ray writes.
Both add `ray_io_cluster`, the label Ray's own dashboards filter on and Ray never emits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from components.builders.alertmanager_config import alerting_block
from components.constants import (
    NODE_EXPORTER_PORT,
    PROMETHEUS_PORT,
    RAY_AUTOSCALER_METRICS_PORT,
    RAY_DASHBOARD_METRICS_PORT,
    RAY_METRICS_PORT,
    RAY_SD_FILE,
    RAY_SD_REFRESH,
)


@dataclass(frozen=True)
class ScrapeSettings:
    scrape_interval: str
    rule_files: tuple[str, ...] = ()
    alertmanager_url: str | None = None  # where firing alerts go; None: only Prometheus and Grafana show them
    remote_write: tuple[dict[str, Any], ...] = ()  # remote_write.remote_write_block(): stores beyond this Prometheus
    # Agent mode (`--agent`): scrape and forward only. No rules, no alerts, nothing to query locally.
    agent: bool = False


def _global(scrape: ScrapeSettings) -> dict[str, Any]:
    config: dict[str, Any] = {"global": {"scrape_interval": scrape.scrape_interval}}
    if not scrape.agent:
        config["global"]["evaluation_interval"] = scrape.scrape_interval
        if scrape.alertmanager_url:
            config["alerting"] = alerting_block(scrape.alertmanager_url)
        if scrape.rule_files:
            config["rule_files"] = list(scrape.rule_files)
    if scrape.remote_write:
        config["remote_write"] = list(scrape.remote_write)
    return config


def _self_scrape() -> dict[str, Any]:
    return {"job_name": "prometheus", "static_configs": [{"targets": [f"localhost:{PROMETHEUS_PORT}"]}]}


def _replace_port(port: int) -> dict[str, Any]:
    # __address__ is already host:port (IPv6 bracketed); swap only the port.
    return {
        "source_labels": ["__address__"],
        "regex": r"(.+):\d+",
        "replacement": f"${{1}}:{port}",
        "target_label": "__address__",
    }


# --- Kubernetes ------------------------------------------------------------------------------

KUBERNETES_JOBS = {
    # job name -> (Ray node types kept, port the target is rewritten to or None to keep `metrics`)
    "ray": ("head|worker", None),
    "ray-autoscaler": ("head", RAY_AUTOSCALER_METRICS_PORT),
    "ray-dashboard": ("head", RAY_DASHBOARD_METRICS_PORT),
}


def kubernetes_sd_block(namespaces: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """Pod discovery, limited to `namespaces` (None: every namespace) and to Running Ray pods."""
    sd: dict[str, Any] = {
        "role": "pod",
        # Server-side filters cut watch traffic; the relabel rules below still enforce the same.
        "selectors": [
            {
                "role": "pod",
                "label": "ray.io/node-type in (head,worker)",
                "field": "status.phase=Running",
            }
        ],
    }
    if namespaces is not None:
        sd["namespaces"] = {"names": list(namespaces)}
    return [sd]


def _kubernetes_ray_job(job: str, node_types: str, port: int | None,
                        namespaces: tuple[str, ...] | None) -> dict[str, Any]:
    relabel = []
    if namespaces is not None:
        # Discovery already watches only these namespaces; the rule keeps the config correct on its own.
        relabel.append({"source_labels": ["__meta_kubernetes_namespace"], "regex": "|".join(namespaces),
                        "action": "keep"})
    relabel += [
        {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Running", "action": "keep"},
        {
            "source_labels": ["__meta_kubernetes_pod_label_ray_io_node_type"],
            "regex": node_types,
            "action": "keep",
        },
        # KubeRay declares `metrics` (8080) on every Ray container: one target per pod.
        {
            "source_labels": ["__meta_kubernetes_pod_container_port_name"],
            "regex": "metrics",
            "action": "keep",
        },
    ]
    if port is not None:
        # Head-only endpoints that a RayCluster may not declare as container ports.
        relabel.append(_replace_port(port))
    for source, target in (
        ("__meta_kubernetes_pod_label_ray_io_cluster", "ray_io_cluster"),
        ("__meta_kubernetes_pod_label_ray_io_node_type", "ray_node_type"),
        ("__meta_kubernetes_namespace", "namespace"),
        ("__meta_kubernetes_pod_name", "pod"),
        ("__meta_kubernetes_pod_node_name", "node"),
    ):
        relabel.append({"source_labels": [source], "target_label": target})
    return {
        "job_name": job,
        "kubernetes_sd_configs": kubernetes_sd_block(namespaces),
        "relabel_configs": relabel,
    }


def kubernetes_config(scrape: ScrapeSettings, namespaces: tuple[str, ...] | None) -> dict[str, Any]:
    config = _global(scrape)
    config["scrape_configs"] = [_self_scrape()] + [
        _kubernetes_ray_job(job, node_types, port, namespaces)
        for job, (node_types, port) in KUBERNETES_JOBS.items()
    ]
    return config


# --- EC2 (Ray's discovery file) --------------------------------------------------------------


# Ray's discovery file is writable by Ray's user, so by a job's code: a target's own labels may not choose
# the scrape's scheme, path or query (which would make Prometheus a GET proxy into the VPC). Every target
# is scraped as Ray serves its metrics, http://host:port/metrics.
FILE_TARGET_GUARD: list[dict[str, Any]] = [
    {"action": "labeldrop", "regex": "__param_.+"},
    {"target_label": "__metrics_path__", "replacement": "/metrics"},
    {"target_label": "__scheme__", "replacement": "http"},
]


def file_sd_config(scrape: ScrapeSettings, cluster_name: str, sd_file: str = RAY_SD_FILE) -> dict[str, Any]:
    """Ray's own discovery file, polled every few seconds; node_exporter beside every Ray node."""
    file_sd = [{"files": [sd_file], "refresh_interval": RAY_SD_REFRESH}]
    cluster_label = {"target_label": "ray_io_cluster", "replacement": cluster_name}
    node_port = rf"(.+):{RAY_METRICS_PORT}"
    config = _global(scrape)
    config["scrape_configs"] = [
        _self_scrape(),
        {"job_name": "ray", "file_sd_configs": file_sd, "relabel_configs": [*FILE_TARGET_GUARD, cluster_label]},
        {
            # Every Ray node has exactly one metrics-export-port target: node_exporter is beside it.
            "job_name": "node",
            "file_sd_configs": file_sd,
            "relabel_configs": [
                *FILE_TARGET_GUARD,
                {"source_labels": ["__address__"], "regex": node_port, "action": "keep"},
                {
                    "source_labels": ["__address__"],
                    "regex": node_port,
                    "replacement": f"${{1}}:{NODE_EXPORTER_PORT}",
                    "target_label": "__address__",
                },
                # Ray's file labels every target job="ray"; file labels win over job_name.
                {"target_label": "job", "replacement": "node"},
                cluster_label,
            ],
        },
    ]
    return config


def storage_flags(path: str, agent: bool, retention_time: str, retention_size: str) -> list[str]:
    """Prometheus' storage flags. An agent keeps only its write-ahead log (until the store has it) and
    refuses the TSDB and retention flags."""
    if agent:
        return ["--agent", f"--storage.agent.path={path}"]
    return [f"--storage.tsdb.path={path}", f"--storage.tsdb.retention.time={retention_time}",
            f"--storage.tsdb.retention.size={retention_size}"]


class _NoAliases(yaml.SafeDumper):
    """Writes shared blocks out in full: anchors and aliases make the deployed file hard to read."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(config: dict[str, Any]) -> str:
    return yaml.dump(config, Dumper=_NoAliases, sort_keys=False, default_flow_style=False)
