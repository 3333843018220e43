"""Prometheus sizing from the Ray cluster it watches (no Pulumi here).

The model was measured with Prometheus 2.42 scraping real Ray 2.60 payloads replayed for N nodes
(tests/benchmarks/sizing.py measures it again on this machine):
  series        ~1,217 for the head's three endpoints, ~315 per worker; planned as 1,500 and 500
  memory        steady working set 55 MiB + 5.3 KiB per series at a 10 s scrape, ~5% more at 5 s (2.42's
                fit; 3.13.2 has a higher floor and less per series, inside the request: docs/sizing.md)
  disk          ~2.2 B per sample in blocks plus index, ~20 KB per series per day at 10 s;
                the WAL holds about 3 h of samples at 7.2 B each
  CPU           ~0.45% of a core per 1,000 samples/s
  node_exporter the aws stack also scrapes one per node: node_exporter 1.10.2 (the image's) serves 524
                series on 2 vCPUs, 490 plus 17 per vCPU (tests/components/builders/test_sizing.py measures
                it); planned as 1,200 per node, enough for 40 vCPUs
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from components.builders.ray_head_env import RAY_DEFAULT_CARDINALITY

HEAD_SERIES = 1500
# Per worker node, by RAY_metric_cardinality_level (tests/benchmarks/query_cost.py records all three):
# a worker keeping 8 processes busy with one task function serves 434 / 373 / 344 series. Under
# `legacy` every busy worker process adds ~12 series per task or actor function (its WorkerId), so
# it is planned for 16 processes running 5 functions: +1,000. `low` drops the function's Name too.
WORKER_SERIES_BY_LEVEL = {"legacy": 1500, "recommended": 500, "low": 450}
NODE_EXPORTER_SERIES = 1200  # per node, where node_exporter runs beside Ray (the aws stack)
# The recording rules' series (recording_rules.py, ray_dashboard_rules.py). Their sums fold the nodes away, so
# they grow with the task and actor functions, their states and the sessions, not the nodes: 126 for a replay
# with one task function at every size (tests/benchmarks/query_cost.py), planned as 500; the overview's object
# store sum keeps one per node.
RECORDED_SERIES = 500
RECORDED_SERIES_PER_NODE = 1
NODE_EXPORTER_PLANNED_VCPUS = 40
BASE_MIB = 55
KIB_PER_SERIES = 5.3
FAST_SCRAPE_MEMORY = 1.05  # at scrape intervals under 10 s
BLOCK_BYTES_PER_SAMPLE = 2.2
INDEX_BYTES_PER_SERIES_DAY = 1_000  # ~150 B per series in each block, blocks compacted over a day
WAL_BYTES_PER_SAMPLE = 7.2
WAL_HOURS = 3
MILLICORES_PER_1000_SAMPLES = 4.5

MEMORY_HEADROOM = 1.25  # request = working set + 25%, rounded up; limit = 2 x request
CPU_HEADROOM = 2.0  # rule evaluation and dashboard queries on top of ingestion
DISK_HEADROOM = 1.25  # the retention cap sits 25% above the estimate
VOLUME_FILL = 0.8  # the volume is sized so the cap fills at most 80% of it

_DURATION_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(duration: str) -> float:
    """Seconds in a Prometheus duration such as 15d or 1h30m."""
    return sum(int(n) * _SECONDS[unit] for n, unit in _DURATION_PART.findall(duration))


@dataclass(frozen=True)
class Sizing:
    series: int
    samples_per_second: float
    working_set_mib: float
    memory_request: str  # Kubernetes quantity, e.g. 256Mi
    memory_limit: str
    cpu_request: str
    cpu_limit: str
    disk_bytes: float  # estimated TSDB size (blocks + WAL) over the retention time
    retention_size: str  # Prometheus --storage.tsdb.retention.size, e.g. 5GB
    volume_size: str  # PersistentVolumeClaim / emptyDir size, e.g. 7Gi


def bytes_of(size: str) -> float:
    """Bytes in a Prometheus size (8GB) or a Kubernetes quantity (10Gi)."""
    match = re.fullmatch(r"(\d+)([A-Za-z]*)", size)
    if match is None:
        raise ValueError(f"not a size or quantity: {size!r}")
    number, unit = match.groups()
    units = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15, "EB": 1e18,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "": 1}
    return int(number) * units[unit]


def _power_of_two_mib(mib: float, floor: int = 128) -> int:
    return max(floor, int(2 ** math.ceil(math.log2(max(mib, 1)))))


def _quantity_mib(mib: int) -> str:
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def size(ray_nodes: int, scrape_interval: str, retention_time: str, node_exporter: bool = False,
         cardinality_level: str = RAY_DEFAULT_CARDINALITY) -> Sizing:
    """`node_exporter`: every node also runs node_exporter, scraped by the same Prometheus;
    `cardinality_level`: the Ray nodes' RAY_metric_cardinality_level."""
    interval = seconds(scrape_interval)
    worker_series = WORKER_SERIES_BY_LEVEL[cardinality_level]
    series = (HEAD_SERIES + worker_series * max(ray_nodes - 1, 0) + RECORDED_SERIES
              + RECORDED_SERIES_PER_NODE * ray_nodes + (NODE_EXPORTER_SERIES * ray_nodes if node_exporter else 0))
    samples = series / interval
    working_set = (BASE_MIB + KIB_PER_SERIES * series / 1024) * (FAST_SCRAPE_MEMORY if interval < 10 else 1)
    request = _power_of_two_mib(working_set * MEMORY_HEADROOM)
    millicores = max(100, math.ceil(MILLICORES_PER_1000_SAMPLES * samples / 1000 * CPU_HEADROOM / 50) * 50)
    days = seconds(retention_time) / 86400
    blocks = series * days * (86400 / interval * BLOCK_BYTES_PER_SAMPLE + INDEX_BYTES_PER_SERIES_DAY)
    wal = series * (WAL_HOURS * 3600 / interval) * WAL_BYTES_PER_SAMPLE
    disk = blocks + wal
    cap_gb = max(1, math.ceil(disk * DISK_HEADROOM / 1e9))
    volume_gib = math.ceil(cap_gb * 1e9 / VOLUME_FILL / 2**30)
    return Sizing(
        series=series,
        samples_per_second=samples,
        working_set_mib=working_set,
        memory_request=_quantity_mib(request),
        memory_limit=_quantity_mib(request * 2),
        cpu_request=f"{millicores}m",
        cpu_limit=str(max(1, math.ceil(millicores * 2 / 1000))),
        disk_bytes=disk,
        retention_size=f"{cap_gb}GB",
        volume_size=f"{volume_gib}Gi",
    )


def table(scrape_interval: str = "5s") -> str:
    """docs/sizing.md's sizing table, from this model."""
    lines = [
        "| Ray nodes | retention | series | memory request / limit | CPU request | retention size | volume |",
        "|---|---|---|---|---|---|---|",
    ]
    for nodes in (10, 100, 500):
        for retention in ("6h", "15d"):
            s = size(nodes, scrape_interval, retention)
            lines.append(f"| {nodes} | {retention} | {s.series:,} | {s.memory_request} / {s.memory_limit} | "
                         f"{s.cpu_request} | {s.retention_size} | {s.volume_size} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
