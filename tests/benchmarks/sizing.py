"""Benchmark: the sizing model against a real Prometheus scraping real Ray payloads for N nodes.

1. Records /metrics from a live Ray head (8080, 44217, 44227) and worker after a small workload.
2. Replays them from one local HTTP server as N nodes: each node has its own address labels, and
   values move between scrapes as real ones do (counters rise, gauges wander).
3. Runs Prometheus (the version the stacks ship) against each N in turn, and prints series, RSS, Go heap, samples/s and
   disk growth next to what components/builders/sizing.py predicts, with the difference.

    venv/bin/python tests/benchmarks/sizing.py [--nodes 10 100 250] [--minutes 4] [--interval 5s]

Loopback only; every process is stopped at the end. A run of minutes shows less memory per series
than a steady state (chunks fill over ~2 h): read the memory column as a lower bound.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from components.builders.sizing import WAL_BYTES_PER_SAMPLE, seconds, size  # noqa: E402
from support.live import LOOPBACK, Processes, Prometheus, wait_until  # noqa: E402
from support.ray_payloads import (  # noqa: E402
    HEAD_ENDPOINTS,
    Sample,
    for_node,
    node_address,
    node_endpoints,
    parse,
    record,
)

REPLAY_PORT = 18080


class Payload:
    """A recorded exposition, re-rendered per node and per scrape with moving values."""

    def __init__(self, text: str):
        # Comments and unparsable lines are kept as they are (value None): the exposition stays whole.
        self.lines: list[tuple[str, float | None, bool]] = []
        for line in text.splitlines():
            sample = parse(line)
            self.lines.append((line, None, False) if sample is None else (sample.series, sample.value, sample.counter))

    def render(self, node: int, scrape: int, rng: random.Random) -> str:
        out = []
        for series, value, counter in self.lines:
            if value is None:
                out.append(series)
                continue
            series = for_node(Sample(series, value, counter), node)
            if counter:
                value = value + scrape * rng.uniform(0, 3)
            elif value:
                value = value * rng.uniform(0.9, 1.1)
            out.append(f"{series} {value:.6g}")
        return "\n".join(out) + "\n"


def serve(payloads: dict[str, Payload]) -> ThreadingHTTPServer:
    scrapes: dict[str, int] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            _, _, node, endpoint = self.path.split("/")  # /node/<n>/<endpoint>
            with lock:
                scrapes[self.path] = scrapes.get(self.path, 0) + 1
                count = scrapes[self.path]
            body = payloads[endpoint].render(int(node), count, random.Random(hash((self.path, count)))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, REPLAY_PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def config(nodes: int, interval: str) -> dict:
    targets = []
    for node in range(nodes):
        for endpoint, port in node_endpoints(node):
            targets.append({"targets": [f"{LOOPBACK}:{REPLAY_PORT}"],
                            "labels": {"__metrics_path__": f"/node/{node}/{endpoint}",
                                       "instance": f"{node_address(node)}:{port}", "ray_io_cluster": "bench"}})
    return {"global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": [{"job_name": "ray", "static_configs": targets}]}


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def measure(nodes: int, interval: str, minutes: float, workdir: Path) -> dict:
    processes = Processes()
    prometheus = Prometheus(processes, workdir / f"prometheus-{nodes}", config(nodes, interval), port=9095)
    try:
        prometheus.start()
        wait_until(lambda: prometheus.own_metric("prometheus_tsdb_head_series") > 0, 60, "first samples")
        time.sleep(60)  # the first minute: series appear, WAL segments open
        data = workdir / f"prometheus-{nodes}" / "data"
        start_disk, start = disk_bytes(data), time.monotonic()
        time.sleep(max(minutes * 60 - 60, 30))
        elapsed = time.monotonic() - start
        value = lambda expr: float(prometheus.query(expr)[0]["value"][1])  # noqa: E731
        return {
            "series": prometheus.own_metric("prometheus_tsdb_head_series"),
            "rss_mib": prometheus.rss_bytes() / 2**20,
            "heap_mib": prometheus.own_metric("go_memstats_heap_inuse_bytes") / 2**20,
            "samples_per_s": value("sum(scrape_samples_scraped) / " + str(seconds(interval))),
            "wal_per_day_gb": (disk_bytes(data) - start_disk) / elapsed * 86400 / 1e9,
            "up": value('count(up{job="ray"} == 1)'),
        }
    finally:
        processes.stop_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[10, 100, 250])
    parser.add_argument("--minutes", type=float, default=4)
    parser.add_argument("--interval", default="5s")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ray-monitoring-sizing-"))
    print(f"recording Ray {'/'.join(map(str, HEAD_ENDPOINTS))} and a worker's payloads ...", flush=True)
    recorded = record()
    payloads = {name: Payload(text) for name, text in recorded.items()}
    counts = {name: sum(1 for _, v, _ in p.lines if v is not None) for name, p in payloads.items()}
    print("recorded samples per endpoint:", counts, flush=True)
    server = serve(payloads)
    rows = []
    try:
        for nodes in args.nodes:
            print(f"scraping {nodes} replayed nodes for {args.minutes:g} min at {args.interval} ...", flush=True)
            measured = measure(nodes, args.interval, args.minutes, workdir)
            rows.append((nodes, measured, size(nodes, args.interval, "1d")))
    finally:
        server.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)

    def diff(measured: float, model: float) -> str:
        return f"{(measured - model) / model * 100:+.0f}%"

    print()
    print("| nodes | targets up | series (model) | RSS MiB / heap MiB (model working set) | samples/s (model) "
          "| WAL GB/day (model) |")
    print("|---|---|---|---|---|---|")
    for nodes, m, model in rows:
        # Over minutes only the WAL grows (blocks are cut every 2 h): compare with the model's WAL rate.
        model_wal = m["samples_per_s"] * WAL_BYTES_PER_SAMPLE * 86400 / 1e9
        print(f"| {nodes} | {m['up']:.0f} | {m['series']:,.0f} ({model.series:,}, {diff(m['series'], model.series)}) "
              f"| {m['rss_mib']:.0f} / {m['heap_mib']:.0f} ({model.working_set_mib:.0f}, "
              f"{diff(m['rss_mib'], model.working_set_mib)}) "
              f"| {m['samples_per_s']:,.0f} ({model.samples_per_second:,.0f}, "
              f"{diff(m['samples_per_s'], model.samples_per_second)}) "
              f"| {m['wal_per_day_gb']:.2f} ({model_wal:.2f}, {diff(m['wal_per_day_gb'], model_wal)}) |")
    print(f"\nscrape interval {args.interval} ({seconds(args.interval):g} s); {args.minutes:g} min per N. The model "
          "plans 1,500 series for the head and 500 per worker (measured payloads are smaller: headroom), and "
          "a steady-state working set; a short run sits below it. Over minutes only the WAL grows "
          f"(model {WAL_BYTES_PER_SAMPLE} B/sample); compacted blocks take ~2.2 B/sample after 2 h.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
