"""Which Ray version's dashboards a stack serves: Ray's dashboards query the metrics of the Ray
version that generated them, so Grafana serves the dashboards of the Ray the cluster runs."""

from __future__ import annotations

from components.builders.dashboard_catalogue import (
    Dashboard,
    UnsupportedRayVersion,
    dashboards_version,
    load_dashboards,
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


def load_dashboards_for(version: str | None, source: str, logs: bool) -> tuple[str, tuple[Dashboard, ...]]:
    """The release whose dashboards serve Ray `version` (None: the pinned Ray), and the dashboards (those of
    Ray's logs with `logs`); `source` says where the version came from, for the error."""
    try:
        return dashboards_version(version), load_dashboards(version, logs=logs)
    except UnsupportedRayVersion as error:
        newest = list(supported_ray_versions().values())[-1]
        raise ConfigError([describe_problem(
            "rayVersion", version, f"{error} ({source})",
            f"pulumi config set rayVersion {newest}, or run a supported Ray")]) from None
