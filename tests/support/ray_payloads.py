"""Real Ray /metrics payloads, recorded from a live head and worker, replayed as N nodes.

The sizing and query-cost benchmarks and the live query test share them: a recording is a head's three
endpoints (8080, 44217, 44227) and a worker's, after a workload; a node's series are the recording's
with that node's address, as every node of a real cluster exports them.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from support.live import LOOPBACK, WORKLOAD, RayCluster

HEAD_ENDPOINTS = (8080, 44217, 44227)
WORKER_PORT = 8081
SAMPLE_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)$")
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket", "_created")
NODE_ADDRESS_LABELS = re.compile(r'(ip|NodeAddress)="[^"]*"')

# Tasks held on the worker at once: each runs in its own worker process, so with the `legacy`
# cardinality level (a WorkerId label on task and actor metrics) the worker's series grow with them.
BUSY_WORKLOAD = WORKLOAD + """
import time

@ray.remote(num_cpus=1)
def hold(seconds):
    time.sleep(seconds)
    return 1

assert sum(ray.get([hold.remote(3) for _ in range({processes})])) == {processes}
"""


def record(env: dict[str, str] | None = None, worker_processes: int = 1) -> dict[str, str]:
    """Payloads of a real head's three endpoints and a worker's ("head-8080", ..., "worker-8080"), after
    a workload that keeps `worker_processes` worker processes busy on the worker."""
    # Ray's socket paths must stay within 107 bytes: its temp dir sits at the top of /tmp.
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-"))
    ray = RayCluster(temp_dir, env or {})
    try:
        ray.start_head(num_cpus=0 if worker_processes > 1 else 2)
        ray.add_worker(WORKER_PORT, num_cpus=worker_processes)
        ray.run(BUSY_WORKLOAD.format(processes=worker_processes) if worker_processes > 1 else WORKLOAD)
        time.sleep(10)  # Ray's exporters publish every few seconds
        return fetch()
    finally:
        ray.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)


def fetch(worker_port: int = WORKER_PORT) -> dict[str, str]:
    """The payloads of a running head's three endpoints and one worker's, on this machine."""
    payloads = {}
    for name, port in [*((f"head-{p}", p) for p in HEAD_ENDPOINTS), ("worker-8080", worker_port)]:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/metrics", timeout=10) as reply:  # noqa: S310
            payloads[name] = reply.read().decode()
    return payloads


def node_address(node: int) -> str:
    return f"10.{node // 65536 % 256}.{node // 256 % 256}.{node % 256}"


@dataclass(frozen=True)
class Sample:
    series: str  # name{labels}
    value: float
    counter: bool


def parse(line: str) -> Sample | None:
    """One exposition line as a sample; None for a comment or an unparsable line."""
    match = SAMPLE_LINE.match(line)
    if not match or line.startswith("#"):
        return None
    name, labels, value = match.groups()
    try:
        number = float(value)
    except ValueError:
        return None
    return Sample(f"{name}{labels or ''}", number, name.endswith(COUNTER_SUFFIXES))


def samples(text: str) -> list[Sample]:
    """The samples of one exposition (comments and unparsable lines left out)."""
    return [sample for line in text.splitlines() if (sample := parse(line)) is not None]


def for_node(sample: Sample, node: int, extra_labels: str = "") -> str:
    """The sample's series as node `node` exports it, with `extra_labels` (`a="b",...`) added, as the
    scrape adds instance, job and the cluster's label."""
    series = NODE_ADDRESS_LABELS.sub(rf'\1="{node_address(node)}"', sample.series)
    if not extra_labels:
        return series
    if series.endswith("}"):
        return f"{series[:-1]},{extra_labels}}}"
    return f"{series}{{{extra_labels}}}"


def node_endpoints(node: int) -> list[tuple[str, str]]:
    """(payload name, metrics port) of node `node`: the head (node 0) has three endpoints."""
    if node == 0:
        return [(f"head-{port}", str(port)) for port in HEAD_ENDPOINTS]
    return [("worker-8080", "8080")]


def session_name(payloads: dict[str, str]) -> str:
    """The Ray session the recorded head's series carry (their SessionName label)."""
    return next(s.series.split('SessionName="')[1].split('"')[0] for s in samples(payloads["head-8080"])
                if 'SessionName="' in s.series)
