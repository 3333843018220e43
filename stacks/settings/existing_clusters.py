"""Kubernetes settings for clusters users already run: the RayClusters and RayServices to patch
(`rayClusters`, or the single-cluster keys), and the Prometheus Operator mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlparse

from stacks.settings.formats import DNS_LABEL, DNS_SUBDOMAIN, LABEL_KEY, LABEL_VALUE
from stacks.settings.reader import Reader
from stacks.settings.table import BY_KEY

Kind = Literal["RayCluster", "RayService"]


@dataclass(frozen=True)
class PatchTarget:
    """A RayCluster or RayService whose head gets the environment by a server-side-apply patch."""

    kind: Kind
    name: str
    namespace: str
    head_container: str
    resource_name: str  # the Pulumi name of its patch component


@dataclass(frozen=True)
class PrometheusOperatorSettings:
    """Monitoring by a Prometheus Operator the user runs (kube-prometheus-stack): PodMonitor,
    PrometheusRule and dashboard ConfigMaps instead of our Prometheus and Grafana."""

    prometheus_url: str  # what the Ray head queries (RAY_PROMETHEUS_HOST)
    grafana_url: str  # what the Ray head checks (RAY_GRAFANA_HOST)
    pod_monitor_labels: dict[str, str]  # what the user's Prometheus selects PodMonitors and rules by
    dashboard_labels: dict[str, str]  # what the user's Grafana sidecar loads dashboards by

    @property
    def grafana_service(self) -> tuple[str, str, int] | None:
        """(namespace, Service, port) when grafana_url is an in-cluster Service address
        (`name.namespace.svc[.cluster.local]`), which no browser outside the cluster can open."""
        parsed = urlparse(self.grafana_url)
        parts = (parsed.hostname or "").split(".")
        if len(parts) < 3 or parts[2] != "svc" or parts[3:] not in ([], ["cluster", "local"]):
            return None
        return parts[1], parts[0], parsed.port or (443 if parsed.scheme == "https" else 80)


KINDS: tuple[Kind, ...] = ("RayCluster", "RayService")


def read_targets(reader: Reader, name: str, namespace: str, head_container: str) -> tuple[PatchTarget, ...]:
    """`rayClusters`, or the single-cluster keys as its one-element shorthand."""
    raw = reader.structured("rayClusters")
    if raw is None:
        return (PatchTarget("RayCluster", name, namespace, head_container, "ray-cluster"),)
    fix = "pulumi config set --path 'rayClusters[0].name' NAME (and .namespace, .kind: RayCluster or RayService)"
    if not isinstance(raw, list) or not raw:
        reader.problem("rayClusters", raw, "must be a non-empty list of {name, namespace, kind}", fix)
        return ()
    targets = []
    for index, item in enumerate(raw):
        where = f"rayClusters[{index}]"
        if not isinstance(item, dict) or set(item) - {"name", "namespace", "kind", "headContainer"}:
            reader.problem("rayClusters", item, f"{where} takes name, namespace, kind and headContainer", fix)
            continue
        kind = item.get("kind", "RayCluster")
        bad = [field for field, value, pattern in (("name", item.get("name"), DNS_SUBDOMAIN),
                                                  ("namespace", item.get("namespace"), DNS_LABEL),
                                                  ("headContainer", item.get("headContainer", head_container),
                                                   DNS_LABEL))
               if not isinstance(value, str) or not pattern.match(value)]
        if kind not in KINDS:
            bad.append("kind")
        if bad:
            reader.problem("rayClusters", item, f"{where}: bad {', '.join(bad)} (kind is one of {', '.join(KINDS)}; "
                           "names are lowercase letters, digits, '-' and '.')", fix)
            continue
        targets.append(PatchTarget(kind, item["name"], item["namespace"], item.get("headContainer", head_container),
                                   f"{kind.lower()}-{item['namespace']}-{item['name']}"))
    keys = [(t.kind, t.namespace, t.name) for t in targets]
    for duplicate in sorted({k for k in keys if keys.count(k) > 1}):
        reader.problem("rayClusters", "/".join(duplicate), "is listed twice", "list each target once")
    return tuple(targets)


def _labels(reader: Reader, key: str, default: dict[str, str]) -> dict[str, str]:
    raw = reader.structured(key)
    if raw is None:
        return default
    if not isinstance(raw, dict) or not all(isinstance(k, str) and LABEL_KEY.match(k) and isinstance(v, str)
                                            and LABEL_VALUE.match(v) for k, v in raw.items()):
        reader.problem(key, raw, "must map Kubernetes label names to label values",
                       f"pulumi config set --path '{key}.release' kube-prometheus-stack")
        return default
    return raw


def read_prometheus_operator(reader: Reader) -> PrometheusOperatorSettings | None:
    enabled = reader.flag("prometheusOperator")
    urls = {key: reader.optional_text(key) for key in ("externalPrometheusUrl", "externalGrafanaUrl")}
    pod_monitor_labels = _labels(reader, "podMonitorLabels", {})
    dashboard_labels = _labels(reader, "grafanaDashboardLabels", {"grafana_dashboard": "1"})
    if not enabled:
        for key, value in urls.items():
            if value is not None:
                reader.problem(key, value, "is used only with prometheusOperator: true",
                               f"pulumi config set prometheusOperator true, or pulumi config rm {key}")
        return None
    for key, value in urls.items():
        if value is None and not reader.has_problem(key):
            reader.problem(key, None, "is required with prometheusOperator: true: the Ray head queries your "
                           "Prometheus and embeds your Grafana", f"pulumi config set {key} {BY_KEY[key].example}")
    return PrometheusOperatorSettings(urls["externalPrometheusUrl"] or "", urls["externalGrafanaUrl"] or "",
                                      pod_monitor_labels, dashboard_labels)
