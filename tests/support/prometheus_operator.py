"""The scrape configuration the Prometheus Operator (v0.93) generates for a PodMonitor
(pkg/prometheus/promcfg.go, generatePodMonitorConfig): its selector and port keeps, its standard
labels, `job` = <namespace>/<PodMonitor name>, `endpoint`, then the PodMonitor's own relabelings,
in that order. Discovery is file_sd here: the live tier runs no API server."""

from __future__ import annotations

import re


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def operator_scrape_configs(namespace: str, name: str, spec: dict, sd_file: str) -> list[dict]:
    """What the Prometheus Operator generates for a PodMonitor (pkg/prometheus/promcfg.go)."""
    jobs = []
    for index, endpoint in enumerate(spec["podMetricsEndpoints"]):
        relabel = [{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"},
                   {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"}]
        for expression in spec["selector"]["matchExpressions"]:
            label = re.sub(r"[^a-zA-Z0-9_]", "_", expression["key"])
            assert expression["operator"] == "In"
            relabel.append({"action": "keep", "source_labels": [f"__meta_kubernetes_pod_label_{label}",
                                                                f"__meta_kubernetes_pod_labelpresent_{label}"],
                            "regex": f"({'|'.join(expression['values'])});true"})
        relabel += [
            {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"],
             "regex": endpoint["port"]},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"target_label": "job", "replacement": f"{namespace}/{name}"},
            {"target_label": "endpoint", "replacement": endpoint["port"]},
        ]
        relabel += [{snake(k): v.lower() if k == "action" else v for k, v in rule.items()}
                    for rule in endpoint.get("relabelings", [])]
        jobs.append({"job_name": f"podMonitor/{namespace}/{name}/{index}",
                     "scrape_interval": endpoint["interval"], "honor_labels": False,
                     "file_sd_configs": [{"files": [sd_file], "refresh_interval": "1s"}],
                     "relabel_configs": relabel})
    return jobs


def final_labels(relabel_configs: list[dict], meta: dict[str, str]) -> dict[str, str]:
    """The target labels left by `replace` rules in order (the only kind that sets labels here); keep and
    drop rules are assumed to pass (the live test runs a real Prometheus on the same configuration)."""
    labels = dict(meta)
    for rule in relabel_configs:
        if rule.get("action", "replace") != "replace" or "target_label" not in rule:
            continue
        values = ";".join(labels.get(s, "") for s in rule.get("source_labels", []))
        pattern = re.fullmatch(rule.get("regex", "(.*)"), values)
        if pattern:
            replacement = re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", rule.get("replacement", "$1"))
            labels[rule["target_label"]] = pattern.expand(replacement)
    return {k: v for k, v in labels.items() if not k.startswith("__")}
