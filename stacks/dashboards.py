"""Which Ray version's dashboards a stack serves: Ray's dashboards query the metrics of the Ray
version that generated them, so Grafana serves the dashboards of the Ray the cluster runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.builders.dashboard_catalogue import (
    Dashboard,
    UnsupportedRayVersion,
    dashboards_version,
    load_dashboards,
    ray_dashboard_rules_group,
    supported_ray_versions,
)
from components.builders.ray_cluster import ray_version_of
from stacks.settings import ConfigError, describe_problem


def image_ray_version(image: str) -> str:
    """The Ray version an image's tag names; ConfigError when it names none (latest, a custom tag):
    serving the pinned version's dashboards in silence would leave panels empty on another Ray."""
    version = ray_version_of(image)
    if version is None:
        raise ConfigError([describe_problem(
            "rayImage", image, "its tag names no Ray version (such as 2.60.0 or 2.60.0-py311-cpu), so the "
            "dashboards Grafana serves cannot follow the Ray it runs",
            "pulumi config set rayVersion X.Y.Z (the Ray version the image runs), or use a versioned tag")])
    return version


@dataclass(frozen=True)
class ServedDashboards:
    version: str  # the release whose dashboards serve the cluster's Ray
    dashboards: tuple[Dashboard, ...]
    rules: dict[str, Any] | None  # the rule group Ray's dashboards read; None: they are served as generated


def load_dashboards_for(version: str | None, source: str, logs: bool, precomputed: bool) -> ServedDashboards:
    """The dashboards that serve Ray `version` (None: the pinned Ray), those of Ray's logs with `logs`; with
    `precomputed` (wherever the stack's rules are evaluated: not in agent mode, where the store's ruler may
    not load them), Ray's read the recorded series of the rule group returned beside them. `source` says
    where the version came from, for the error."""
    try:
        dashboards = load_dashboards(version, logs=logs, precomputed=precomputed)
        return ServedDashboards(dashboards_version(version), dashboards,
                                ray_dashboard_rules_group(version) if precomputed else None)
    except UnsupportedRayVersion as error:
        newest = list(supported_ray_versions().values())[-1]
        raise ConfigError([describe_problem(
            "rayVersion", version, f"{error} ({source})",
            f"pulumi config set rayVersion {newest}, or run a supported Ray")]) from None
