"""Ray's dashboards on recorded sums: for every stored Ray version, each rewritten query draws what Ray's own
query drew for every variable choice (the real promtool evaluates both over the same series and the
version's rules); panel ids, uids and everything but the queries stay as Ray generated them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from components.builders import dashboard_catalogue, ray_dashboard_rules
from components.builders.dashboard_catalogue import RAY_VERSION, precomputation, supported_ray_versions
from support import recorded_equivalence


def _stored(version: str) -> dict[str, str]:
    stored = dashboard_catalogue._ray_dashboards(version, dashboard_catalogue.DASHBOARDS_ROOT)
    return {Path(relative).name: content for relative, content in stored}


def _distinct_plans() -> dict[str, list[str]]:
    """Versions whose rules and rewrites are the same share one promtool run: first version -> all of them."""
    seen: dict[str, list[str]] = {}
    for version in supported_ray_versions().values():
        plan = precomputation(version)
        key = json.dumps([plan.group(), sorted((t.original, t.rewritten) for t in plan.targets)])
        seen.setdefault(key, []).append(version)
    return {versions[0]: versions for versions in seen.values()}


DISTINCT = _distinct_plans()


@pytest.mark.parametrize("version", DISTINCT, ids=["+".join(v) for v in DISTINCT.values()])
def test_every_rewritten_query_draws_what_rays_query_drew(version, tmp_path):
    plan = precomputation(version)
    rewritten = [t for t in plan.targets if t.rewritten != t.original]
    assert len(rewritten) >= 25, f"Ray {version}: only {len(rewritten)} queries read recorded sums"
    result = recorded_equivalence.run(tmp_path, plan.group(), plan, _stored(version))
    assert result.returncode == 0, result.stdout[-1000:] + result.stderr[-4000:]


def test_a_rule_that_drops_a_label_a_query_filters_on_is_caught(tmp_path):
    plan = precomputation(RAY_VERSION)
    group = plan.group()
    for rule in group["rules"]:
        rule["expr"] = rule["expr"].replace("SessionName, ", "")
    result = recorded_equivalence.run(tmp_path, group, plan, _stored(RAY_VERSION), choices=["one session"])
    assert result.returncode == 1 and "session_b" in result.stderr


def test_a_rewrite_that_ignores_the_chosen_nodes_is_caught(tmp_path):
    plan = precomputation(RAY_VERSION)
    # Reading the recorded sum whatever the Instance variable says: right at All, wrong for one node.
    broken = ray_dashboard_rules.Plan(plan.labels, [
        ray_dashboard_rules.Target(t.dashboard, t.panel, t.panel_id, t.original,
                                   t.rewritten.replace('__name__=~"$Instance", ', "")) for t in plan.targets])
    at_all = recorded_equivalence.run(tmp_path, plan.group(), broken, _stored(RAY_VERSION), choices=["all"])
    one_node = recorded_equivalence.run(tmp_path, plan.group(), broken, _stored(RAY_VERSION), choices=["one node"])
    assert at_all.returncode == 0, at_all.stderr[-2000:]  # at All the recorded side is the right one
    assert one_node.returncode == 1 and "FAILED" in one_node.stderr  # for one node it answers the whole cluster


@pytest.mark.parametrize("version", list(supported_ray_versions().values()))
def test_only_the_queries_change_so_the_metrics_tab_finds_its_panels(version):
    stored = _stored(version)
    served = {Path(d.relative_path).name: d.content for d in dashboard_catalogue.load_dashboards(
        version, precomputed=True) if d.relative_path.startswith("ray/")}
    assert served.keys() == stored.keys()
    changed = 0
    for name, content in stored.items():
        before, after = json.loads(content), json.loads(served[name])
        assert after["uid"] == before["uid"] and after["title"] == before["title"]
        assert _ids_and_queries(after)[0] == _ids_and_queries(before)[0], name
        for old, new in zip(_ids_and_queries(before)[1], _ids_and_queries(after)[1]):
            changed += old != new
        assert _strip_exprs(after) == _strip_exprs(before), name
    assert changed >= 25


def _ids_and_queries(dashboard: dict) -> tuple[list[tuple[int, str, int]], list[str]]:
    panels = ray_dashboard_rules._panels(dashboard.get("panels", []))
    return ([(p.get("id", 0), p.get("title", ""), len(p.get("targets", []))) for p in panels],
            [t.get("expr", "") for p in panels for t in p.get("targets", [])])


def _strip_exprs(dashboard: dict) -> dict:
    for panel in ray_dashboard_rules._panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            target.pop("expr", None)
    return dashboard


def test_the_served_queries_read_only_series_the_group_records():
    plan = precomputation(RAY_VERSION)
    recorded = {rule["record"] for rule in plan.group()["rules"]}
    read = {name for t in plan.targets for name in re.findall(r'__name__="(ray_dashboards:[^"]+)"', t.rewritten)}
    assert read == recorded


def test_the_metrics_tabs_slowest_panels_read_recorded_sums():
    """The panels docs/sizing.md measured slowest at 1,000 nodes, among those Ray's Metrics tab embeds."""
    plan = precomputation(RAY_VERSION)
    default = [t for t in plan.targets if t.dashboard == "default_grafana_dashboard.json"]
    for panel in ("Active Tasks by Name", "Running Tasks by Name", "Node CPU Usage by Component",
                  "Node Memory Usage by Component", "Logical CPUs Usage", "Object Store Memory by Location"):
        assert any("ray_dashboards:" in t.rewritten for t in default if t.panel == panel), panel
    # What stays, and why: a per-series maximum over 14 days is not a sum of sums.
    tasks = [t for t in plan.targets if t.panel == "All Tasks by State"]
    assert tasks and all("max_over_time" in t.rewritten for t in tasks)
