"""Dashboards for the Ray version a cluster runs: every supported version's dashboards as its own
generator produced them (checksums in dashboards/ray-versions/index.json), the uids its Ray Dashboard
links to, and overview and rules that use only metric names every supported version has."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from components.builders import alert_rules, overview_dashboard
from components.builders.dashboard_catalogue import (
    UnsupportedRayVersion,
    dashboards_version,
    load_dashboards,
    supported_ray_versions,
)
from components.versions import RAY_VERSION
from support.paths import PROJECT_ROOT
from support.promql import METRIC_NAMES, as_grafana_sends, metric_names

VERSIONS = PROJECT_ROOT / "dashboards" / "ray-versions"
INDEX = json.loads((VERSIONS / "index.json").read_text())


def project_metric_names() -> set[str]:
    names = set()
    for expr in overview_dashboard.expressions().values():
        names |= metric_names(as_grafana_sends(expr))
    for expr in alert_rules.expressions(alert_rules.AlertSettings()).values():
        names |= metric_names(expr)
    return names - {"up"}


def test_at_least_the_last_eight_minor_releases_up_to_the_pinned_one():
    minors = [tuple(map(int, m.split("."))) for m in supported_ray_versions()]
    pinned = tuple(map(int, RAY_VERSION.split(".")[:2]))
    assert minors[-1] == pinned and len(minors) >= 8
    assert minors == [(pinned[0], pinned[1] - i) for i in reversed(range(len(minors)))], "no gaps"


@pytest.mark.parametrize("version", sorted(INDEX))
def test_each_version_is_stored_as_its_generator_produced_it(version):
    for name, digest in INDEX[version]["files"].items():
        content = gzip.decompress((VERSIONS / "blobs" / f"{digest}.json.gz").read_bytes())
        assert hashlib.sha256(content).hexdigest() == digest, f"{version} {name}"
        assert json.loads(content)["uid"]
    dashboards = {d.uid: d for d in load_dashboards(version)}
    # The uids that version's Ray Dashboard links to, as its generator set them.
    assert {"rayDefaultDashboard", "rayServeDashboard", "rayDataDashboard", "rayTrainDashboard"} <= set(dashboards)
    assert "rayMonitoringOverview" in dashboards, "the project's own dashboard is served with every version"


def test_a_tampered_blob_is_refused(tmp_path):
    import shutil

    copy = tmp_path / "dashboards"
    shutil.copytree(PROJECT_ROOT / "dashboards", copy)
    version = sorted(INDEX)[0]
    digest = INDEX[version]["files"]["default_grafana_dashboard.json"]
    blob = copy / "ray-versions" / "blobs" / f"{digest}.json.gz"
    blob.write_bytes(gzip.compress(b'{"uid": "rayDefaultDashboard", "panels": []}'))
    with pytest.raises(ValueError, match="does not match its checksum"):
        load_dashboards(version, root=copy)


@pytest.mark.parametrize("version", sorted(INDEX))
def test_overview_and_rules_use_only_names_that_version_has(version):
    """Names from that version's own source: its generated panels, its Python metric definitions and
    the strings of its compiled core (recorded by dashboards/regenerate.py when it was added)."""
    missing = project_metric_names() - set(INDEX[version]["metric_names"])
    assert not missing, f"Ray {version} has no {sorted(missing)}"


def test_the_pinned_version_has_every_name_too():
    assert not project_metric_names() - METRIC_NAMES


def test_the_name_check_can_fail():
    assert {"ray_tasks_total", "ray_actors_alive"} & set().union(*(set(v["metric_names"]) for v in INDEX.values())) \
        == set(), "names that no Ray exports are in no version's list"


@pytest.mark.parametrize("asked,served", [("2.58.0", "2.58.1"), ("2.58", "2.58.1"), ("2.52.0", "2.52.1"),
                                          (RAY_VERSION, RAY_VERSION), (None, RAY_VERSION)])
def test_a_release_is_served_by_its_minor(asked, served):
    assert dashboards_version(asked) == served


def test_an_unsupported_version_lists_the_supported_ones():
    with pytest.raises(UnsupportedRayVersion, match="supported: 2.52, 2.53"):
        dashboards_version("2.40.1")


def test_different_versions_differ_where_ray_changed_them():
    old = {d.uid: d.content for d in load_dashboards("2.52.1")}
    new = {d.uid: d.content for d in load_dashboards()}
    assert old["rayDefaultDashboard"] != new["rayDefaultDashboard"]
    assert old["rayMonitoringOverview"] == new["rayMonitoringOverview"]
