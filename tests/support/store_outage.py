"""The remote-write outage scenario of the live tier: the aws stack's prometheus.yml writing to a receiver that is
stopped for OUTAGE_SECONDS while Ray runs. It runs in a thread beside the tier's other tests (it only reads the
shared cluster's discovery file and scrapes the head), so its minute of waiting costs the suite no minute;
tests/live/test_remote_write_live.py asserts on what it measured."""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from doctor.checks import remote_write_health
from support.live import LOOPBACK, Processes, Prometheus, http_json, on_loopback, wait_until
from support.loopback import free_port
from support.stacks import run_stack

OUTAGE_SECONDS = 60
SERIES = f'ray_node_cpu_utilization{{instance="{LOOPBACK}:8080"}}'


@dataclass
class Outage:
    """What the scenario saw: the sender's and the receiver's samples of SERIES around the outage, and the
    doctor's remote write check before, during and after it."""

    cluster_label: str = ""
    health_before: tuple[bool, str] = (False, "")
    health_during: tuple[bool, str] = (False, "")
    health_after: tuple[bool, str] = (False, "")
    sent: set[float] = field(default_factory=set)
    received: set[float] = field(default_factory=set)
    stopped_at: float = 0.0
    restarted_at: float = 0.0
    end: float = 0.0


def raw_timestamps(prometheus: Prometheus, start: float, end: float) -> set[float]:
    reply = http_json(f"{prometheus.url}/api/v1/query?query={SERIES}[{int(end - start)}s]&time={end}".replace(
        "{", "%7B").replace("}", "%7D").replace('"', "%22"))
    assert reply["status"] == "success", reply
    return {float(t) for series in reply["data"]["result"] for t, _ in series["values"]}


def health(sender: Prometheus) -> tuple[bool, str]:
    return remote_write_health(urllib.request.urlopen(f"{sender.url}/metrics", timeout=5).read().decode())  # noqa: S310


def run_outage(receiver: Prometheus, sender: Prometheus, processes: Processes) -> Outage:
    """Every wait is bounded; the processes are stopped whatever happens."""
    seen = Outage()
    try:
        receiver.start(30, "--web.enable-remote-write-receiver")
        sender.start()
        wait_until(lambda: receiver.query(SERIES), 60, "Ray series at the receiver")
        (sample,) = receiver.query(SERIES)
        seen.cluster_label = sample["metric"]["ray_io_cluster"]
        seen.health_before = health(sender)
        seen.stopped_at = time.time()
        processes.stop(receiver.process)
        # The doctor sees the store fall behind while it is away.
        wait_until(lambda: not health(sender)[0], OUTAGE_SECONDS - 5, "the doctor reports the store behind")
        seen.health_during = health(sender)
        time.sleep(max(0.0, seen.stopped_at + OUTAGE_SECONDS - time.time()))
        receiver.start(60, "--web.enable-remote-write-receiver")
        seen.restarted_at = time.time()
        seen.end = seen.restarted_at + 5

        # The receiver holds a sample newer than the window: the backlog is in, since one series' samples go
        # through one shard, in order (Prometheus' storage/remote/queue_manager.go shards by series reference).
        def caught_up() -> bool:
            now = time.time()
            return now > seen.end + 5 and max(raw_timestamps(receiver, seen.stopped_at - 15, now), default=0) > seen.end

        wait_until(caught_up, 120, "the receiver caught up with the backlog", interval=1)
        seen.sent = raw_timestamps(sender, seen.stopped_at - 15, seen.end)
        seen.received = raw_timestamps(receiver, seen.stopped_at - 15, seen.end)
        seen.health_after = health(sender)
        return seen
    finally:
        processes.stop_all()


def deployed_config(sd_file: Path, receiver: Prometheus, **settings: str) -> dict:
    """The aws stack's prometheus.yml with the receiver as its `remoteWrite` store, on 127.0.0.1. Called in the
    main thread: the stack runs under Pulumi's mocks, whose state is the process's."""
    stack = run_stack("aws", remoteWrite=[{"url": f"{receiver.url}/api/v1/write"}], **settings)
    assert stack.error is None, stack.error
    deployed = yaml.safe_load(stack.config()["/opt/ray-monitoring/prometheus/prometheus.yml"])
    return on_loopback(deployed, sd_file, None)


def prepare(workdir: Path, sd_file: Path) -> tuple[Prometheus, Prometheus, Processes, dict]:
    """The receiver and the sender with the deployed configuration, not started."""
    processes = Processes()
    receiver = Prometheus(processes, workdir / "receiver", {"global": {"scrape_interval": "1h"}}, port=free_port())
    config = deployed_config(sd_file, receiver)
    sender = Prometheus(processes, workdir / "sender", config, port=free_port())
    return receiver, sender, processes, config
