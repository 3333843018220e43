"""Ray's logs, end to end with the real programs: the collector (the components the stacks use, built from
their modules at the contrib image's version) runs the aws stack's deployed collector.yaml against a live
Ray 2.60 node's session directory (which rotates its files at 64 KiB here), sending OTLP/HTTP to VictoriaLogs,
which takes OTLP logs as Loki does. Every line a job prints arrives once with its attributes: across Ray's
own rotation, a store away for 60 s, and a collector restart.

The Ray node is this module's own, in a network namespace of its own (support/pod_network.py), so it runs
beside the live tier's cluster (Ray's ports are fixed) in an xdist group of its own (tests/conftest.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.builders.logs.collector_config import NODE_TYPE_ENV
from components.builders.logs.compose_services import COLLECTOR_CONFIG_FILE, COLLECTOR_STATE_MOUNT
from support.live import VENV_BIN, Processes, wait_until
from support.log_pipeline import Collector, VictoriaLogs
from support.loopback import free_port
from support.pod_network import LINK_PREFIX, PodNetwork
from support.stacks import run_stack

OUTAGE_SECONDS = 60
NODE = "ray-head-node"  # what HOSTNAME names the node on EC2 (Docker: the host's name)
NETWORK = "10.245.0.0/24"  # beside the discovery scenario's pod CIDR (10.244.0.0/16), never overlapping it
HEAD = "10.245.0.1"
# Ray rotates its files at 64 KiB here (512 MiB by default), keeping every rotated file.
ROTATION = {"RAY_ROTATION_MAX_BYTES": str(64 * 1024), "RAY_ROTATION_BACKUP_COUNT": "100"}

JOB = """
import ray
ray.init(address="auto", logging_level="ERROR")

@ray.remote
def say(run, task, lines):
    for i in range(lines):
        print(f"logline {{run}} {{task}} {{i:05d}} " + "x" * 60, flush=True)
    return lines

assert sum(ray.get([say.remote("{run}", t, {lines}) for t in range({tasks})])) == {tasks} * {lines}
"""


def printed(run: str, tasks: int, lines: int) -> Counter:
    return Counter(f"logline {run} {t} {i:05d} " + "x" * 60 for t in range(tasks) for i in range(lines))


def received(store: VictoriaLogs, run: str) -> list[dict]:
    return store.query(f'"logline {run} "')


def all_arrived(store: VictoriaLogs, run: str, expected: Counter) -> bool:
    return Counter(r["_msg"] for r in received(store, run)) == expected


def deployed_collector_config() -> str:
    stack = run_stack("aws")
    assert stack.error is None, stack.error
    return stack.config()[COLLECTOR_CONFIG_FILE]


@dataclass
class RayNode:
    network: PodNetwork
    temp_dir: Path
    env: dict[str, str]

    def run(self, script: str, timeout: float = 180) -> str:
        """A driver, in the node's namespace."""
        return self.network.run_in(HEAD, [str(VENV_BIN / "python"), "-c", script], self.env, timeout=timeout)


@pytest.fixture(scope="module")
def ray_node():
    network = PodNetwork(NETWORK, prefix=f"{LINK_PREFIX}l")
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-logs-"))  # Ray's socket paths: at most 107 bytes
    env = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": str(temp_dir), "RAY_TMPDIR": str(temp_dir),
           "TMPDIR": str(temp_dir), "RAY_USAGE_STATS_ENABLED": "0", **ROTATION}
    try:
        network.start()
        network.add_pod(HEAD)
        network.run_in(HEAD, [str(VENV_BIN / "ray"), "start", "--head", "--port=6379", f"--node-ip-address={HEAD}",
                              f"--temp-dir={temp_dir}", "--dashboard-host=0.0.0.0", "--num-cpus=2",
                              "--disable-usage-stats"], env)
        yield RayNode(network, temp_dir, {**env, "RAY_ADDRESS": f"{HEAD}:6379"})
    finally:
        network.close()  # every process in the namespace: Ray's daemons and workers
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def pipeline(ray_node, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("logs")
    processes = Processes()
    store = VictoriaLogs(processes, workdir / "store", free_port())
    config = deployed_collector_config().replace("http://127.0.0.1:3100/otlp", store.otlp_url)
    collector = Collector(processes, workdir / "collector", config,
                          {"/tmp/ray": str(ray_node.temp_dir), COLLECTOR_STATE_MOUNT: str(workdir / "state")},
                          {"HOSTNAME": NODE, NODE_TYPE_ENV: "head"})
    try:
        store.start()
        collector.start()
        yield store, collector, ray_node
    finally:
        processes.stop_all()


def test_the_deployed_configuration_passes_the_collectors_own_validation(pipeline):
    _, collector, _ = pipeline
    checked = collector.validate()
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_line_a_job_prints_arrives_once_with_its_attributes_across_rays_rotation(pipeline):
    store, collector, ray = pipeline
    run = uuid.uuid4().hex[:8]
    expected = printed(run, 4, 1500)  # ~90 KB a task: Ray rotates each worker's .out at 64 KiB here
    ray.run(JOB.format(run=run, tasks=4, lines=1500), timeout=180)
    wait_until(lambda: all_arrived(store, run, expected), 120, f"the {sum(expected.values())} lines of run {run}",
               interval=2)
    records = received(store, run)
    rotated = [p for p in ray.temp_dir.glob("session_*/logs/worker-*.out.*")
               if f"logline {run} " in p.read_text(errors="replace")]
    assert rotated, "Ray rotated no worker file with this run's lines: the test proves nothing about rotation"
    sample = records[0]
    session = next(ray.temp_dir.glob("session_2*")).name
    assert (sample["ray_component"], sample["ray_io_cluster"], sample["ray_node"], sample["ray_node_type"],
            sample["ray_stream"], sample["service.name"]) == ("worker", "ray-cluster", NODE, "head", "out", "ray")
    assert sample["ray_session_name"] == session  # the metrics' SessionName
    assert re.fullmatch(r"[0-9]+", sample["ray_pid"]) and re.fullmatch(r"[0-9a-f]{56}", sample["ray_worker_id"])
    # Workers Ray started before the job are named with the nil job id: no job id rather than a wrong one.
    assert all(r.get("ray_job_id") != "ffffffff" for r in records)
    assert {r["ray_stream"] for r in records} == {"out"}
    assert collector.metric("otelcol_receiver_refused_log_records") in (None, 0.0)


def test_a_jobs_driver_log_carries_its_submission_id(pipeline):
    store, _, ray = pipeline
    submission = f"raysubmit_logs_{uuid.uuid4().hex[:8]}"
    result = subprocess.run([str(VENV_BIN / "ray"), "job", "submit", "--address", f"http://{HEAD}:8265",
                             "--submission-id", submission, "--", "python", "-c", f"print('driver {submission}')"],
                            env=ray.env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    def printed_line() -> list[dict]:  # the entrypoint's own line, not the lines that quote its command
        return [r for r in store.query(f'"driver {submission}"') if r["_msg"] == f"driver {submission}"]

    wait_until(printed_line, 60, "the job driver's line", interval=1)
    (record,) = printed_line()
    assert (record["ray_component"], record["ray_submission_id"], record["ray_stream"]) == (
        "job_driver", submission, "log")
    # The supervisor's log names the same submission.
    supervisor = [r for r in store.query(f'"{submission}"') if r["ray_component"] == "job_supervisor"]
    assert supervisor and {r["ray_submission_id"] for r in supervisor} == {submission}


def test_a_store_away_for_60_s_loses_no_line_and_gets_none_twice(pipeline):
    store, _, ray = pipeline
    run = uuid.uuid4().hex[:8]
    expected = printed(run, 2, 500)
    stopped_at = time.monotonic()
    store.stop()
    ray.run(JOB.format(run=run, tasks=2, lines=500), timeout=180)
    time.sleep(max(0.0, stopped_at + OUTAGE_SECONDS - time.monotonic()))
    store.start()
    # The exporter retries with backoff, at most 10 s apart: the backlog is in within a few intervals.
    wait_until(lambda: all_arrived(store, run, expected), 120, f"run {run}'s lines after the outage", interval=2)


def test_a_restarted_collector_resumes_where_it_stopped(pipeline):
    store, collector, ray = pipeline
    before = {r["_msg"] for r in store.query('"logline "')}
    run = uuid.uuid4().hex[:8]
    expected = printed(run, 2, 300)
    collector.stop()  # SIGTERM, as Docker stops it
    ray.run(JOB.format(run=run, tasks=2, lines=300), timeout=180)
    collector.start()
    wait_until(lambda: all_arrived(store, run, expected), 120, f"run {run}'s lines after the restart", interval=2)
    # Nothing read before the restart came again.
    again = Counter(r["_msg"] for r in store.query('"logline "') if r["_msg"] in before)
    assert not [line for line, count in again.items() if count > 1]
