"""Benchmark: what looking at the dashboards costs Prometheus, at 10 to 1,000 Ray nodes.

1. Records real Ray payloads at each RAY_metric_cardinality_level (a head, and a worker keeping 8 worker
   processes busy) and prints the series each level gives at every node count.
2. Per node count: one hour of 5 s samples for that many replayed nodes (Ray's default level), backfilled
   into TSDB blocks by the real promtool and opened by Prometheus (the version the stacks ship) with the stack's rules
   (support/backfill.py).
3. Loads the overview and Ray's default, Data, Train and Serve dashboards as Grafana sends them (support/
   grafana_queries.py), Ray's two ways side by side on the same Prometheus: as the stack serves them (reading
   the recorded sums of components/builders/ray_dashboard_rules.py where they can) and as Ray's factory
   generates them (what any other setup serves). All sessions, then one session, over each dashboard's
   default range, 6 requests at a time as a browser does. Per load: requests, total, slowest panel, p50/p95,
   Prometheus' peak RSS and CPU seconds; and each rule group's evaluation time and the series it records.
4. At the largest node count: 5 and 20 open Ray Dashboard Metrics tabs (the default dashboard, last 5
   minutes, one session, refreshed every 5 s) for 2 minutes, each way: p95 latency and Prometheus' peak
   memory, against the memory limit the sizing sets.

    venv/bin/python tests/benchmarks/query_cost.py [--nodes 10 100 250 1000] [--viewers 5 20]
                                                   [--viewer-minutes 2] [--hours 1]

Loopback only; every process is stopped and every file removed at the end. Prometheus here holds the
hour in blocks and ingests nothing: its memory is the queries' on top of the blocks it maps. What
ingestion holds is the sizing model's (tests/benchmarks/sizing.py measures it): the table adds the two.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from components.builders import alert_rules, recording_rules  # noqa: E402
from components.builders.alert_rules import AlertSettings  # noqa: E402
from components.builders.dashboard_catalogue import load_dashboards, ray_dashboard_rules_group  # noqa: E402
from components.builders.ray_head_env import CARDINALITY_ENV, CARDINALITY_LEVELS, RAY_DEFAULT_CARDINALITY  # noqa: E402
from components.builders.sizing import bytes_of, size  # noqa: E402
from support.backfill import Backfill, backfill  # noqa: E402
from support.go_tools import PROMETHEUS_RELEASE  # noqa: E402
from support.grafana_queries import (  # noqa: E402
    Answer,
    Request,
    default_range_seconds,
    load,
    number,
    requests,
    send,
)
from support.live import Processes, Prometheus, wait_until  # noqa: E402
from support.ray_payloads import record, samples, session_name  # noqa: E402
from support.tools import promtool  # noqa: E402

RAY_DASHBOARDS = ("default", "data", "train", "serve")  # dashboards/ray/<name>_grafana_dashboard.json
SHIPPED, GENERATED = "as served here", "as Ray generates it"


def dashboards() -> dict[tuple[str, str], dict]:
    """(name, which) -> dashboard JSON: the overview, and Ray's both as served and as generated."""
    served = {d.slug: json.loads(d.content) for d in load_dashboards(precomputed=True)}
    found = {("overview", SHIPPED): served["ray-monitoring-overview"]}
    for name in RAY_DASHBOARDS:
        found[(name, SHIPPED)] = served[f"ray-{name}"]
        found[(name, GENERATED)] = load(ROOT / f"dashboards/ray/{name}_grafana_dashboard.json")
    return found

DASHBOARD_RULES = ray_dashboard_rules_group(None)  # what the stacks deploy for the pinned Ray
BROWSER_CONNECTIONS = 6  # requests a browser tab has in flight to one host
METRICS_TAB_RANGE_S = 300  # the Ray Dashboard's Metrics tab: now-5m, refresh 5s (its defaults in Ray 2.60)
METRICS_TAB_REFRESH_S = 5
WORKER_PROCESSES = 8
PORT = 9096


class Watch:
    """Peak RSS and CPU seconds of a process while a block of code runs (sampled every 50 ms)."""

    def __init__(self, pid: int):
        self.pid, self.peak_rss, self.cpu_s = pid, 0, 0.0
        self._stop = threading.Event()

    def _rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _cpu(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 1/100 s

    def __enter__(self) -> Watch:
        self._cpu_start, self.peak_rss = self._cpu(), self._rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_rss = max(self.peak_rss, self._rss())

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak_rss = max(self.peak_rss, self._rss())
        self.cpu_s = self._cpu() - self._cpu_start


@dataclass(frozen=True)
class Load:
    dashboard: str
    which: str  # as served here, or as Ray generates it
    view: str
    answers: list[Answer]
    wall_s: float
    peak_rss: int
    cpu_s: float

    @property
    def latencies(self) -> list[float]:
        return sorted(a.seconds for a in self.answers)

    def percentile(self, share: float) -> float:
        values = self.latencies
        return values[min(len(values) - 1, int(share * len(values)))]

    @property
    def slowest(self) -> Answer:
        return max(self.answers, key=lambda a: a.seconds)


def load_dashboard(prometheus: Prometheus, batch: list[Request], end: float, range_s: float) -> list[Answer]:
    with ThreadPoolExecutor(BROWSER_CONNECTIONS) as pool:
        answers = list(pool.map(lambda r: send(prometheus.url, r, end, range_s), batch))
    errors = [f"{a.request.source}: {a.error}" for a in answers if a.error]
    assert not errors, f"Prometheus refused {len(errors)} requests: {errors[:3]}"
    return answers


def measure_loads(prometheus: Prometheus, end: float, session: str) -> list[Load]:
    loads = []
    for (name, which), dashboard in dashboards().items():
        for view, chosen in (("all sessions", {}), ("one session", {"SessionName": session})):
            batch = requests(dashboard, chosen)
            range_s = default_range_seconds(dashboard)
            assert prometheus.process is not None
            with Watch(prometheus.process.pid) as watch:
                began = time.perf_counter()
                answers = load_dashboard(prometheus, batch, end, range_s)
                wall = time.perf_counter() - began
            loads.append(Load(name, which, view, answers, wall, watch.peak_rss, watch.cpu_s))
    return loads


def viewers(prometheus: Prometheus, end: float, session: str, tabs: int, seconds: float,
            which: str) -> tuple[list[float], int, int, float]:
    """`tabs` Metrics tabs refreshing every 5 s, on the default dashboard `which` way: latencies, Prometheus'
    RSS before and its peak, and the cores it used on average."""
    batch = requests(dashboards()[("default", which)], {"SessionName": session}, range_s=METRICS_TAB_RANGE_S)
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def tab(offset: float) -> None:
        time.sleep(offset)  # tabs opened at different moments
        while time.monotonic() < deadline:
            began = time.monotonic()
            answers = load_dashboard(prometheus, batch, end, METRICS_TAB_RANGE_S)
            with lock:
                latencies.extend(a.seconds for a in answers)
            time.sleep(max(0.0, METRICS_TAB_REFRESH_S - (time.monotonic() - began)))

    idle = prometheus.rss_bytes()
    assert prometheus.process is not None
    began = time.monotonic()
    with Watch(prometheus.process.pid) as watch, ThreadPoolExecutor(tabs) as pool:
        list(pool.map(tab, [i * METRICS_TAB_REFRESH_S / tabs for i in range(tabs)]))
    return sorted(latencies), idle, watch.peak_rss, watch.cpu_s / (time.monotonic() - began)


@dataclass(frozen=True)
class RuleCost:
    group: str
    seconds: float  # one evaluation: every rule of the group, one after another, at one instant
    series: int  # the series it records


def rule_costs(prometheus: Prometheus, at: float) -> list[RuleCost]:
    """Each group's rules evaluated as Prometheus evaluates them, at `at` (a time with data: this Prometheus
    ingests nothing, so its own evaluations now read nothing); the alerts count their firing series."""
    costs = []
    for group in alert_rules.rules(AlertSettings(), DASHBOARD_RULES)["groups"]:
        seconds, series = 0.0, 0
        for rule in group["rules"]:
            began = time.perf_counter()
            series += len(prometheus.query(rule["expr"], at=at))
            seconds += time.perf_counter() - began
        costs.append(RuleCost(group["name"], seconds, series))
    return costs


def _prometheus(processes: Processes, workdir: Path, port: int) -> Prometheus:
    rules = workdir / alert_rules.FILE_NAME
    rules.write_text(alert_rules.render(AlertSettings(), DASHBOARD_RULES))
    config = {"global": {"scrape_interval": "5s", "evaluation_interval": "5s"}, "rule_files": [str(rules)],
              # Its own metrics, for the rule evaluation time.
              "scrape_configs": [{"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]}
    return Prometheus(processes, workdir, config, port=port)


def _started(prometheus: Prometheus, merged: bool) -> None:
    prometheus.start(300)
    if merged:
        # The blocks overlap in time: Prometheus merges them into one in its first compaction (a minute in).
        wait_until(lambda: prometheus.own_metric("prometheus_tsdb_blocks_loaded") == 1, 1800, "one merged block",
                   interval=2)


def start_prometheus(processes: Processes, workdir: Path, data: Path, filled: Backfill,
                     port: int = PORT, merged: bool = True) -> Prometheus:
    """Prometheus on the backfilled `data` with the stack's rules, the recording rules' series backfilled
    too (`promtool tsdb create-blocks-from rules`, as docs/sizing.md tells an upgrading user); `merged`:
    measured on one block, as a Prometheus that ingested the hour would hold it."""
    workdir.mkdir(parents=True, exist_ok=True)
    prometheus = _prometheus(processes, workdir, port)
    data.rename(workdir / "data")
    _started(prometheus, merged=False)  # promtool reads overlapping blocks as well: merge once, at the end
    recording = workdir / "recording.yml"
    recording.write_text(yaml.safe_dump({"groups": [recording_rules.group(), DASHBOARD_RULES]}))
    recorded = workdir / "recorded"
    subprocess.run([promtool(), "tsdb", "create-blocks-from", "rules", f"--start={number(filled.start)}",
                    f"--end={number(filled.end + 1)}", f"--url={prometheus.url}", "--eval-interval=5s",
                    f"--output-dir={recorded}", str(recording)], check=True, capture_output=True, timeout=1800)
    prometheus.stop()
    for block in recorded.iterdir():
        block.rename(workdir / "data" / block.name)
    _started(prometheus, merged)
    wait_until(lambda: prometheus.query("prometheus_rule_group_last_duration_seconds"), 120, "rules evaluated")
    return prometheus


def cardinality() -> dict[str, dict[str, str]]:
    recorded = {}
    for level in CARDINALITY_LEVELS:
        print(f"recording Ray with {CARDINALITY_ENV}={level}, {WORKER_PROCESSES} busy worker processes ...",
              flush=True)
        recorded[level] = record({CARDINALITY_ENV: level}, WORKER_PROCESSES)
    return recorded


def print_cardinality(recorded: dict[str, dict[str, str]], node_counts: list[int]) -> None:
    print("\n| level | head series | worker series | " + " | ".join(f"{n:,} nodes" for n in node_counts)
          + " | sizing plans at the largest |")
    print("|---|---|---|" + "---|" * len(node_counts) + "---|")
    for level, payloads in recorded.items():
        head = sum(len(samples(text)) for name, text in payloads.items() if name.startswith("head"))
        worker = len(samples(payloads["worker-8080"]))
        counts = " | ".join(f"{head + worker * (n - 1):,}" for n in node_counts)
        planned = size(max(node_counts), "5s", "15d", cardinality_level=level).series
        print(f"| {level} | {head:,} | {worker:,} | {counts} | {planned:,} |")


def print_loads(rows: list[tuple[int, list[Load], list[RuleCost]]]) -> None:
    print("\n| nodes | dashboard | served | view | requests | total s | slowest panel (s) | p50 / p95 ms "
          "| peak RSS MiB | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for nodes, loads, _ in rows:
        for x in loads:
            print(f"| {nodes:,} | {x.dashboard} | {x.which} | {x.view} | {len(x.answers)} | {x.wall_s:.2f} "
                  f"| {x.slowest.request.source} ({x.slowest.seconds:.2f}) "
                  f"| {x.percentile(0.5) * 1000:.0f} / {x.percentile(0.95) * 1000:.0f} "
                  f"| {x.peak_rss / 2**20:.0f} | {x.cpu_s:.2f} |")
    print("\n| nodes | rule group | one evaluation ms | series it records (alerts: firing) |")
    print("|---|---|---|---|")
    for nodes, _, costs in rows:
        for cost in costs:
            print(f"| {nodes:,} | {cost.group} | {cost.seconds * 1000:.1f} | {cost.series:,} |")
    for nodes, loads, _ in rows:
        pairs = {(x.dashboard, x.view): x for x in loads if x.which == GENERATED}
        for x in loads:
            if x.which == SHIPPED and (generated := pairs.get((x.dashboard, x.view))):
                print(f"{nodes:,} nodes, {x.dashboard} ({x.view}): {generated.wall_s / x.wall_s:.1f}x faster, "
                      f"{generated.cpu_s / max(x.cpu_s, 0.01):.1f}x less CPU as served here")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[10, 100, 250, 1000])
    parser.add_argument("--viewers", type=int, nargs="*", default=[5, 20])
    parser.add_argument("--viewer-minutes", type=float, default=2)
    parser.add_argument("--hours", type=float, default=1)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ray-monitoring-query-cost-"))
    rows: list[tuple[int, list[Load], list[RuleCost]]] = []
    viewer_rows = []
    try:
        recorded = cardinality()
        print_cardinality(recorded, args.nodes)
        payloads = recorded[RAY_DEFAULT_CARDINALITY]
        session = session_name(payloads)
        for nodes in args.nodes:
            began = time.monotonic()
            filled = backfill(payloads, nodes, workdir / f"blocks-{nodes}", hours=args.hours)
            print(f"{nodes:,} nodes: {filled.series:,} series, {filled.samples:,} samples backfilled in "
                  f"{time.monotonic() - began:.0f} s", flush=True)
            processes = Processes()
            try:
                prometheus = start_prometheus(processes, workdir / f"prometheus-{nodes}", workdir / f"blocks-{nodes}",
                                              filled)
                loads = measure_loads(prometheus, filled.end, session)
                rows.append((nodes, loads, rule_costs(prometheus, filled.end)))
                if nodes == max(args.nodes):
                    for tabs in args.viewers:
                        for which in (SHIPPED, GENERATED):
                            print(f"{tabs} viewers for {args.viewer_minutes:g} min, {which} ...", flush=True)
                            viewer_rows.append((nodes, tabs, which, *viewers(
                                prometheus, filled.end, session, tabs, args.viewer_minutes * 60, which)))
            finally:
                processes.stop_all()
                shutil.rmtree(workdir / f"prometheus-{nodes}", ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print_loads(rows)
    if viewer_rows:
        print("\n| nodes | open Metrics tabs | default dashboard | requests | p50 / p95 ms | Prometheus cores "
              "| RSS idle / peak MiB | ingestion working set (model) + queries' peak MiB "
              "| memory request / limit MiB |")
        print("|---|---|---|---|---|---|---|---|---|")
        for nodes, tabs, which, latencies, idle, peak, cores in viewer_rows:
            model = size(nodes, "5s", "15d")
            p50, p95 = statistics.median(latencies), latencies[int(0.95 * len(latencies))]
            print(f"| {nodes:,} | {tabs} | {which} | {len(latencies):,} | {p50 * 1000:.0f} / {p95 * 1000:.0f} "
                  f"| {cores:.2f} "
                  f"| {idle / 2**20:.0f} / {peak / 2**20:.0f} | {model.working_set_mib + (peak - idle) / 2**20:.0f} "
                  f"| {bytes_of(model.memory_request) / 2**20:.0f} / {bytes_of(model.memory_limit) / 2**20:.0f} |")
    print(f"\nPrometheus {PROMETHEUS_RELEASE} on {os.cpu_count()} cores; 5 s samples; Ray's default cardinality level "
          "for the loads.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
