"""Benchmark: how fast each Prometheus configuration finds Ray, and what it costs per Ray node.

Runs side by side, on 127.0.0.1, against one real Ray cluster:
  project      the aws stack's prometheus.yml (1 s discovery refresh, 5 s scrape)
  ray-default  the prometheus.yml the pinned ray package ships for `ray metrics launch-prometheus`
               (file discovery with Prometheus' default 5 m refresh, 10 s scrape)

Prints seconds from `ray start` returning to the first scrape (Prometheus started before Ray, and
a worker joining later), then Prometheus RSS and head series per Ray node.

    venv/bin/python tests/benchmarks/discovery.py [--max-wait 420]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.live import LOOPBACK, Processes, Prometheus, RayCluster, on_loopback  # noqa: E402
from support.stacks import run_stack  # noqa: E402


def ray_shipped_config() -> dict:
    import ray

    path = Path(ray.__file__).parent / "dashboard/modules/metrics/export/prometheus/prometheus.yml"
    return yaml.safe_load(path.read_text())


def configs() -> dict[str, dict]:
    stack = run_stack("aws")
    assert stack.error is None, stack.error
    project = yaml.safe_load(stack.config()["/opt/ray-monitoring/prometheus/prometheus.yml"])
    project.pop("rule_files")
    project["scrape_configs"] = [j for j in project["scrape_configs"] if j["job_name"] == "ray"]
    return {"project": project, "ray-default": ray_shipped_config()}


def first_scrape(servers: dict[str, Prometheus], address: str, max_wait: float) -> dict[str, float | None]:
    """Seconds until each server has scraped `address` (None: not within max_wait)."""
    start, found = time.monotonic(), {}
    while len(found) < len(servers) and time.monotonic() - start < max_wait:
        for name, server in servers.items():
            if name not in found and server.target_up("ray", address):
                found[name] = time.monotonic() - start
        time.sleep(0.25)
    return {name: found.get(name) for name in servers}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-wait", type=float, default=420, help="seconds to wait for each discovery")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ray-monitoring-bench-"))
    processes = Processes()
    ray = RayCluster(workdir / "ray", {})
    servers = {name: Prometheus(processes, workdir / name, on_loopback(config, ray.sd_file, None), port)
               for (name, config), port in zip(configs().items(), (9090, 9092))}
    try:
        for server in servers.values():
            server.start()
        ray.start_head()
        head = first_scrape(servers, f"{LOOPBACK}:8080", args.max_wait)
        print("head found after (s):", {k: v and round(v, 1) for k, v in head.items()}, flush=True)
        ray.add_worker(8081)
        worker = first_scrape(servers, f"{LOOPBACK}:8081", args.max_wait)
        print("worker found after (s):", {k: v and round(v, 1) for k, v in worker.items()}, flush=True)
        ray.run("import ray; ray.init(address='auto'); ray.get([ray.remote(lambda x: x).remote(i) "
                "for i in range(100)])")
        time.sleep(60)  # a minute of scraping both nodes
        print(f"{'configuration':<12} {'head found (s)':>15} {'worker found (s)':>17} {'RSS (MiB)':>10} "
              f"{'series':>7} {'series/node':>12}")
        for name, server in servers.items():
            series = int(server.own_metric("prometheus_tsdb_head_series"))
            nodes = len([t for t in server.targets() if t["health"] == "up" and t["labels"]["instance"]
                         .endswith((":8080", ":8081"))])
            per_node = f"{series / nodes:.0f}" if nodes else "-"
            fmt = lambda v: f"{v:.1f}" if v is not None else f">{args.max_wait:.0f}"  # noqa: E731
            print(f"{name:<12} {fmt(head[name]):>15} {fmt(worker[name]):>17} "
                  f"{server.rss_bytes() / 2**20:>10.1f} {series:>7} {per_node:>12}")
        print("series include the head's autoscaler and dashboard endpoints (counted with the head)")
    finally:
        ray.stop()
        processes.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
