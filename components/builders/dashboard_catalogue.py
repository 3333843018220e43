"""The dashboard catalogue: Ray's own dashboards for the Ray a cluster runs (read from dashboards/,
older versions gzipped by sha256) and the project's own, with the uids the Ray Dashboard embeds."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.builders import ray_dashboard_rules
from components.builders.logs.dashboard import UID as LOGS_UID
from components.versions import RAY_VERSION

DASHBOARDS_ROOT = Path(__file__).resolve().parents[2] / "dashboards"


@dataclass(frozen=True)
class Dashboard:
    """One dashboard JSON file from dashboards/, named for where it is deployed."""

    relative_path: str  # e.g. "ray/default_grafana_dashboard.json"
    file_name: str  # flat, unique name used as ConfigMap key and file name on disk
    slug: str  # DNS-safe, for Kubernetes object names
    uid: str
    content: str


def _slug(relative_path: str) -> str:
    stem = relative_path.removesuffix(".json").replace("_grafana_dashboard", "")
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")


RAY_DIR = "ray"  # Ray's own dashboards for the pinned Ray, as its generator writes them
VERSIONS_DIR = "ray-versions"  # other Ray versions: index.json and gzipped blobs named by sha256
OWN_DIRS = ("ray-monitoring",)  # the project's own dashboards, the same for every Ray version
LOGS_DIR = "logs"  # the project's own dashboards of Ray's logs: served where the stack ships them


class UnsupportedRayVersion(ValueError):
    """No dashboards were generated for this Ray version; the message lists the supported ones."""


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def supported_ray_versions(root: Path = DASHBOARDS_ROOT) -> dict[str, str]:
    """Ray minor version (2.58) -> the release whose dashboards are served for it (2.58.1)."""
    index = json.loads((root / VERSIONS_DIR / "index.json").read_text())
    return {_minor(v): v for v in sorted(index, key=lambda v: tuple(map(int, v.split("."))))} | {
        _minor(RAY_VERSION): RAY_VERSION}


def dashboards_version(version: str | None, root: Path = DASHBOARDS_ROOT) -> str:
    """The release whose dashboards serve Ray `version` (same minor); the pinned one for None."""
    if version is None:
        return RAY_VERSION
    supported = supported_ray_versions(root)
    if _minor(version) not in supported:
        raise UnsupportedRayVersion(f"no dashboards for Ray {version}; supported: {', '.join(supported)}")
    return supported[_minor(version)]


def _dashboard(relative: str, content: str) -> Dashboard:
    try:
        uid = json.loads(content)["uid"]
    except (ValueError, KeyError) as error:
        raise ValueError(f"dashboards/{relative}: not a Grafana dashboard with a uid ({error})") from error
    slug = _slug(relative)
    return Dashboard(relative, f"{slug}.json", slug, uid, content)


def _ray_dashboards(version: str, root: Path) -> list[tuple[str, str]]:
    """(path under dashboards/, content) of Ray's own dashboards for `version` (an exact release)."""
    if version == RAY_VERSION:
        return [(p.relative_to(root).as_posix(), p.read_text(encoding="utf-8"))
                for p in sorted((root / RAY_DIR).glob("*.json"))]
    files = json.loads((root / VERSIONS_DIR / "index.json").read_text())[version]["files"]
    found = []
    for name, digest in sorted(files.items()):
        content = gzip.decompress((root / VERSIONS_DIR / "blobs" / f"{digest}.json.gz").read_bytes()).decode()
        if hashlib.sha256(content.encode()).hexdigest() != digest:
            raise ValueError(f"dashboards/{VERSIONS_DIR}: {name} of Ray {version} does not match its checksum")
        found.append((f"{RAY_DIR}/{name}", content))
    return found


@functools.cache
def precomputation(version: str, root: Path = DASHBOARDS_ROOT) -> ray_dashboard_rules.Plan:
    """The recording rules behind Ray's dashboards of `version` (an exact release), and their queries rewritten."""
    files = _ray_dashboards(version, root)
    return ray_dashboard_rules.plan({Path(relative).name: content for relative, content in files})


@functools.cache
def _served_ray_dashboards(version: str, root: Path) -> tuple[tuple[str, str], ...]:
    """Ray's dashboards of `version` with their queries reading the recorded sums where they can."""
    plan = precomputation(version, root)
    return tuple((relative, ray_dashboard_rules.rewrite(Path(relative).name, content, plan))
                 for relative, content in _ray_dashboards(version, root))


def ray_dashboard_rules_group(ray_version: str | None, root: Path = DASHBOARDS_ROOT) -> dict[str, Any]:
    """The rule group the dashboards `load_dashboards(ray_version, precomputed=True)` serves read."""
    return precomputation(dashboards_version(ray_version, root), root).group()


def without_logs_links(content: str) -> str:
    """A dashboard of ours without its panels' links (and data links) to the logs dashboard, which is served
    only with logs."""
    dashboard = json.loads(content)
    target = f"/d/{LOGS_UID}/"

    def kept(links: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [x for x in links if target not in x.get("url", "")]

    panels = []
    for panel in dashboard.get("panels", []):
        if panel.get("links"):
            panel = {**panel, "links": kept(panel["links"])}
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        if defaults.get("links"):
            links = kept(defaults["links"])
            defaults = {**{k: v for k, v in defaults.items() if k != "links"}, **({"links": links} if links else {})}
            panel = {**panel, "fieldConfig": {**panel["fieldConfig"], "defaults": defaults}}
        panels.append(panel)
    if panels == dashboard.get("panels", []):
        return content
    return json.dumps({**dashboard, "panels": panels}, indent=2) + "\n"


def load_dashboards(ray_version: str | None = None, root: Path = DASHBOARDS_ROOT,
                    logs: bool = False, precomputed: bool = False) -> tuple[Dashboard, ...]:
    """Ray's own dashboards for `ray_version` (default: the pinned Ray) and the project's own (with `logs`,
    those of Ray's logs too, whose datasource exists only then), sorted so deploys are stable. Ray's keep
    the same file names across versions, so switching versions changes their content, not the objects that
    hold them. With `precomputed`, Ray's read the series of `ray_dashboard_rules_group(ray_version)` where
    they can: serve them so only where that group is evaluated."""
    version = dashboards_version(ray_version, root)
    files = list(_served_ray_dashboards(version, root) if precomputed else _ray_dashboards(version, root))
    for directory in (*OWN_DIRS, *([LOGS_DIR] if logs else [])):
        files += [(p.relative_to(root).as_posix(), p.read_text(encoding="utf-8") if logs
                   else without_logs_links(p.read_text(encoding="utf-8")))
                  for p in sorted((root / directory).rglob("*.json"))]
    if not files:
        # A Grafana without Ray's dashboards would leave the Ray Dashboard's charts empty.
        raise FileNotFoundError(f"no dashboards under {root}")
    dashboards = [_dashboard(relative, content) for relative, content in sorted(files)]
    names = [d.slug for d in dashboards]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"dashboards/: file names collide after flattening: {duplicates}")
    return tuple(dashboards)
