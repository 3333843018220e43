"""Hours of Prometheus data for N replayed Ray nodes in minutes: OpenMetrics written here, turned into
TSDB blocks by the real `promtool tsdb create-blocks-from openmetrics`, then opened by a real Prometheus.

Each node's series are the recording's (support.ray_payloads) with its own address and the labels a
scrape adds (instance, job, ray_io_cluster). Values move as real ones do: a counter rises from its
recorded value, a non-zero gauge wanders around it, a zero stays zero (most of Ray's per-state series
are zero, and that is what keeps their chunks small). Series with the same recorded value share one
pre-rendered run of samples, which is what makes 1,000 nodes x 1 hour quick to write.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from support.ray_payloads import Sample, for_node, node_address, node_endpoints, samples
from support.tools import promtool

BLOCK_S = 7200  # promtool cuts blocks at 2 h boundaries: the data sits inside one


@dataclass(frozen=True)
class Backfill:
    series: int
    samples: int
    start: float  # first sample, Unix seconds
    end: float  # last sample


def data_window(hours: float, now: float | None = None) -> tuple[float, float]:
    """The last `hours` before the most recent 2 h boundary: one block, all in the past."""
    end = (int(now or time.time()) // BLOCK_S) * BLOCK_S - 1
    if hours * 3600 > BLOCK_S - 1:
        raise ValueError("backfill at most 2 h, one block")
    return end - hours * 3600, end


class Runs:
    """Pre-rendered `" value timestamp"` runs, one per (kind, recorded value)."""

    def __init__(self, start: float, end: float, interval_s: float):
        self.stamps = [f"{start + i * interval_s:.3f}" for i in range(int((end - start) // interval_s) + 1)]
        self.cache: dict[tuple[bool, float], list[str]] = {}

    def __call__(self, sample: Sample) -> list[str]:
        key = (sample.counter, sample.value)
        if key not in self.cache:
            rng = random.Random(hash(key))
            value, run = sample.value, []
            for stamp in self.stamps:
                if sample.counter and value:
                    value += rng.uniform(0, 3)
                elif value and not sample.counter:
                    value = sample.value * rng.uniform(0.9, 1.1)
                run.append(f" {value:.6g} {stamp}\n")
            self.cache[key] = run
        return self.cache[key]


def _scrape_series(scraped: int) -> list[Sample]:
    """The series Prometheus adds for every target it scrapes."""
    return [Sample("up", 1.0, False), Sample("scrape_duration_seconds", 0.012, False),
            Sample("scrape_samples_scraped", scraped, False),
            Sample("scrape_samples_post_metric_relabeling", scraped, False), Sample("scrape_series_added", 0, False)]


def node_series(payloads: dict[str, str], nodes: int, cluster: str) -> Iterator[tuple[str, Sample]]:
    parsed = {name: samples(text) for name, text in payloads.items()}
    for node in range(nodes):
        for name, port in node_endpoints(node):
            extra = f'instance="{node_address(node)}:{port}",job="ray",ray_io_cluster="{cluster}"'
            for sample in [*parsed[name], *_scrape_series(len(parsed[name]))]:
                yield for_node(sample, node, extra), sample


def _write(path: Path, chunk: list[tuple[str, Sample]], runs: Runs) -> None:
    # OpenMetrics wants a metric's series together: sort by series text, which starts with the name.
    with path.open("w") as out:
        for series, sample in sorted(chunk, key=lambda item: item[0]):
            out.write(series + series.join(runs(sample)))
        out.write("# EOF\n")


def _chunks(items: Iterator[tuple[str, Sample]], size: int) -> Iterator[list[tuple[str, Sample]]]:
    while chunk := [item for _, item in zip(range(size), items)]:
        yield chunk


def _finish(running: tuple[subprocess.Popen[bytes], Path]) -> None:
    process, path = running
    _, errors = process.communicate(timeout=1800)
    assert process.returncode == 0, f"promtool create-blocks-from openmetrics failed: {errors.decode()}"
    path.unlink()


def backfill(payloads: dict[str, str], nodes: int, out: Path, hours: float = 1.0, interval_s: float = 5.0,
             cluster: str = "bench", chunk_series: int = 25_000, now: float | None = None) -> Backfill:
    """Blocks for `nodes` replayed nodes in `out` (a Prometheus data directory). The series are written
    in chunks, each made into a block by its own promtool (one per core, while the next chunk is
    written); Prometheus merges the blocks (they overlap in time) in its first compaction."""
    start, end = data_window(hours, now)
    runs = Runs(start, end, interval_s)
    out.mkdir(parents=True, exist_ok=True)
    series, running = 0, []
    try:
        for index, chunk in enumerate(_chunks(node_series(payloads, nodes, cluster), chunk_series)):
            path = out.parent / f"{out.name}-chunk-{index}.om"
            _write(path, chunk, runs)
            series += len(chunk)
            running.append((subprocess.Popen([promtool(), "tsdb", "create-blocks-from", "openmetrics", str(path),
                                              str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), path))
            while len(running) >= (os.cpu_count() or 1):
                _finish(running.pop(0))
        while running:
            _finish(running.pop(0))
    finally:
        for process, path in running:
            process.kill()
            process.wait(timeout=30)
            path.unlink(missing_ok=True)
    return Backfill(series=series, samples=series * len(runs.stamps), start=start, end=end)
