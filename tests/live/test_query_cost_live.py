"""The query-cost benchmark, small: the live cluster's own payloads replayed as 10 nodes over 15 minutes,
every dashboard loaded as Grafana sends it, and two viewers, through the benchmark's own code."""

from __future__ import annotations

import pytest
from benchmarks.query_cost import (
    GENERATED,
    SHIPPED,
    dashboards,
    measure_loads,
    rule_costs,
    start_prometheus,
    viewers,
)

from components.builders.sizing import RECORDED_SERIES, RECORDED_SERIES_PER_NODE
from support.backfill import backfill
from support.grafana_queries import number
from support.live import Processes
from support.loopback import free_port
from support.ray_payloads import fetch, session_name

NODES = 10


@pytest.fixture(scope="module")
def replayed(live, tmp_path_factory):
    payloads = fetch()
    workdir = tmp_path_factory.mktemp("query-cost")
    filled = backfill(payloads, NODES, workdir / "blocks", hours=0.25)
    processes = Processes()
    try:
        prometheus = start_prometheus(processes, workdir / "prometheus", workdir / "blocks", filled,
                                      port=free_port(), merged=False)
        session = session_name(payloads)
        yield prometheus, filled, session
    finally:
        processes.stop_all()


def test_the_backfill_holds_every_node_for_the_whole_window(replayed):
    prometheus, filled, _ = replayed
    # Prometheus 3's range selectors are left-open: [15m] at the end is (start, end], 180 of the 181 samples
    # from start to end; a minute more takes in the first.
    per_node = prometheus.query(f'count_over_time(up{{job="ray"}}[15m] @ {number(filled.end)})')
    assert len(per_node) == NODES + 2, "the head's three endpoints and nine workers' one"
    assert {float(n["value"][1]) for n in per_node} == {15 * 60 / 5}, "one sample every 5 s for 15 min"
    whole = prometheus.query(f'count_over_time(up{{job="ray"}}[16m] @ {number(filled.end)})')
    assert {float(n["value"][1]) for n in whole} == {15 * 60 / 5 + 1}, "the sample at the start too"


def test_every_dashboard_loads_and_the_overview_draws_every_node(replayed):
    prometheus, filled, session = replayed
    loads = measure_loads(prometheus, filled.end, session)  # asserts that Prometheus refused nothing
    assert {(x.dashboard, x.which, x.view) for x in loads} == {
        (d, which, v) for d, which in dashboards() for v in ("all sessions", "one session")}
    for load in loads:
        assert load.wall_s > 0 and load.peak_rss > 0 and load.slowest.seconds > 0
    overview = next(x for x in loads if x.dashboard == "overview" and x.view == "one session")
    cpu = next(a for a in overview.answers if a.request.source == "CPU utilisation per node #0")
    assert cpu.series == NODES, "one line per replayed node"
    # The recorded panels have the backfilled hour too (promtool tsdb create-blocks-from rules).
    store = next(a for a in overview.answers if a.request.source == "Object store used vs capacity #0")
    assert store.series == NODES
    costs = {c.group: c for c in rule_costs(prometheus, filled.end)}
    assert costs["ray-dashboards"].seconds > 0 and costs["ray-dashboards"].series > 0
    # The sizing model plans for the series the recording rules add.
    recorded = costs["ray-dashboards"].series + costs["ray-monitoring-overview"].series
    assert recorded <= RECORDED_SERIES + RECORDED_SERIES_PER_NODE * NODES, recorded
    # Ray's dashboards draw as many lines from the recorded sums (backfilled for the window) as from Ray's own
    # series, panel by panel.
    by_key = {(x.dashboard, x.which, x.view): x for x in loads}
    for load in loads:
        if load.which == SHIPPED and load.dashboard != "overview":
            generated = by_key[(load.dashboard, GENERATED, load.view)]
            assert {a.request.source: a.series for a in load.answers} == {
                a.request.source: a.series for a in generated.answers}, load.dashboard


def test_viewers_are_measured(replayed):
    prometheus, filled, session = replayed
    latencies, idle, peak, cores = viewers(prometheus, filled.end, session, tabs=2, seconds=6, which=SHIPPED)
    assert len(latencies) >= 2 * 70, "two tabs load the default dashboard at least once"
    assert peak >= idle > 0 and cores > 0
