"""The requests the benchmarks send in Grafana's place (support/grafana_queries.py), checked against what
Grafana's source says it sends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from support.grafana_queries import number, rate_interval, requests, round_interval, step_seconds

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"


@pytest.mark.parametrize(("seconds", "rounded"), [(2.25, 2), (0.1875, 0.2), (8, 10), (13, 15), (100, 120),
                                                  (40_000, 86400)])
def test_intervals_round_as_grafanas_round_interval(seconds, rounded):
    # packages/grafana-data/src/datetime/rangeutil.ts, roundInterval: 2.25 s (1 h over 1,600 px) -> 2 s.
    assert round_interval(seconds) == rounded


def test_the_step_never_goes_under_the_datasources_scrape_interval_or_11000_points():
    # pkg/promlib/models/query.go: the datasource's interval (15 s without timeInterval) is the floor;
    # range / 11,000 is the safe resolution.
    assert step_seconds(3600) == 15
    assert step_seconds(300) == 15
    assert step_seconds(7 * 86400) == 300  # 378 s per pixel, rounded to 5 min
    assert step_seconds(30 * 86400, width_px=100_000) == pytest.approx(30 * 86400 / 11_000)


def test_rate_interval_is_four_scrapes_or_a_step_and_a_scrape():
    # pkg/promlib/models/query.go, calculateRateInterval: max(interval + scrape, 4 x scrape).
    assert rate_interval(15) == 60
    assert rate_interval(600) == 615


def test_the_overview_is_sent_as_its_panels_read():
    dashboard = (DASHBOARDS / "ray-monitoring/overview.json").read_text()

    sent = requests(json.loads(dashboard), {"SessionName": "session_1"})
    by_source = {r.source: r for r in sent}
    tasks = by_source["Finished and failed tasks per second #0"]
    assert tasks.kind == "range" and tasks.step_s == 15
    assert tasks.expr == ('sum by (State) (rate(ray_tasks{ray_io_cluster=~".*",SessionName=~"session_1",'
                          'State=~"FINISHED|FAILED"}[60s]))')
    variables = [r for r in sent if r.kind == "label_values"]
    assert {r.label for r in variables} == {"ray_io_cluster", "instance"}, "the chosen SessionName is not asked"
    assert by_source["variable Instance"].expr == ('ray_node_cpu_utilization{ray_io_cluster=~".*",'
                                                   'SessionName=~"session_1"}')


UNSUBSTITUTED = re.compile(r"\$(?![0-9]+\b)|\[\[")
EVERY_DASHBOARD = [*sorted((DASHBOARDS / "ray").glob("*.json")), DASHBOARDS / "ray-monitoring/overview.json"]


@pytest.mark.parametrize("path", EVERY_DASHBOARD, ids=lambda p: p.stem)
def test_every_variable_of_every_dashboard_is_substituted(path):

    for chosen in ({}, {"SessionName": "session_1"}):
        sent = requests(json.loads(path.read_text()), chosen)
        assert sent
        # `$1` is label_replace's back-reference, left as it is: Grafana substitutes only the variables a
        # dashboard defines and leaves any other `$name` in place (template_srv.ts, replace), as expand does.
        left = [r for r in sent if UNSUBSTITUTED.search(r.expr)]
        assert not left, f"{path.name}: {left[:2]}"


def test_times_are_sent_whole():
    # 1795982399 as f"{t:g}" is 1.79598e+09: 40 minutes off.
    assert number(1795982399) == "1795982399" and number(1795982399.25) == "1795982399.25" and number(15.0) == "15"
