"""What `pulumi up` says about a choice the user made that has a consequence they may not see."""

from __future__ import annotations

import pulumi

from components.kubernetes.namespace import POD_SECURITY_ENFORCE, POD_SECURITY_PROFILE
from stacks.settings import MonitoringSettings
from stacks.settings.kubernetes import GrafanaService


def warn_if_viewers_query_a_shared_store(m: MonitoringSettings, anonymous_viewers: bool) -> None:
    """Grafana's Viewer role may send any query to its datasource: with grafanaQueryUrl, every
    anonymous visitor queries that store with Grafana's credentials, all of what they may read."""
    if anonymous_viewers and m.store.query:
        pulumi.log.warn(
            f"grafanaQueryUrl: anonymous Grafana viewers (the Ray Dashboard's embedded charts) can send any query to "
            f"{m.store.query.url} with Grafana's credentials, not only this cluster's series; give Grafana a "
            "credential that reads only this cluster (a tenant of its own, or a label-enforcing proxy), or keep "
            "Grafana where only trusted people reach it (docs/remote-storage.md)")


def warn_if_grafana_is_published(service: GrafanaService) -> None:
    """A load balancer carries Grafana's plain HTTP, the admin login included, across the networks it admits."""
    if service.type == "LoadBalancer":
        pulumi.log.warn(f"grafanaServiceType: LoadBalancer serves Grafana over plain HTTP to "
                        f"{', '.join(service.source_ranges)}: anonymous viewers read every dashboard and, through "
                        "Grafana's datasource, every series Prometheus holds; the admin password crosses those "
                        "networks in the clear when someone logs in. Put TLS in front (an Ingress with a "
                        "certificate) where they are not your own (docs/security.md)")


def warn_if_namespace_is_unrestricted(key: str, name: str, labels: dict[str, str]) -> None:
    """A namespace the stack uses but did not create keeps its labels: say when Pod Security does not guard it."""
    if labels.get(POD_SECURITY_ENFORCE) not in (POD_SECURITY_PROFILE, "baseline"):
        pulumi.log.warn(f"{key}: namespace {name} was not created by this stack, which leaves its labels alone, and "
                        f"Pod Security does not guard it: `kubectl label namespace {name} {POD_SECURITY_ENFORCE}="
                        f"{POD_SECURITY_PROFILE}` refuses privileged pods there (docs/security.md)")
