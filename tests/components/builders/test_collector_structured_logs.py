"""Ray's structured (JSON) log lines through the real collector: the job, worker, task and actor each line
names become the record's attributes, even in a pool worker's file named after the nil job, with its level as
the record's severity; the line itself arrives as written. Ray's own plain lines (its C++ and Python
processes') carry their level too; a task's prints have none."""

from __future__ import annotations

import json
import logging

from ray._common.formatters import JSONFormatter

from components.builders.logs import collector_config
from components.builders.logs.collector_config import NODE_ENV, NODE_TYPE_ENV, RAY_TEMP_DIR, CollectorSettings
from support.live import Processes, wait_until
from support.log_pipeline import Collector, VictoriaLogs
from support.loopback import free_port

WORKER_ID = "7f3c0a5e9b1d4c2e8a6f0b3d5e7c9a1b2d4f6e8a0c2b4d6e8f0a1c3e"
POOL_FILE = f"worker-{WORKER_ID}-ffffffff-4242.out"  # a worker Ray started before any job
# What Ray's CoreContextFilter adds to a worker's records (ray/_common/filters.py, LogKey's names).
CONTEXT = {"job_id": "02000000", "worker_id": WORKER_ID, "node_id": "ab" * 28,
           "task_id": "c2668a65bda616c1ffffffffffffffffffffffff02000000", "task_name": "train_step",
           "task_func_name": "train.train_step"}


def ray_json_line(message: str, level: int) -> str:
    """A line as Ray's own JSONFormatter writes it."""
    record = logging.LogRecord("train", level, "/app/train.py", 12, message, None, None)
    record.__dict__.update(CONTEXT)
    return JSONFormatter().format(record)


def shipped(tmp_path, files: dict[str, list[str]]) -> dict[str, dict]:
    """Each line of `files` (name -> lines, in a session's logs directory) as the store keeps it, by line, after
    the real collector with the nodes' configuration read them."""
    processes = Processes()
    store = VictoriaLogs(processes, tmp_path / "store", free_port())
    try:
        store.start()
        logs = tmp_path / "ray" / "session_2026_12_04_10_00_00_000000_1" / "logs"
        logs.mkdir(parents=True)
        for name, lines in files.items():
            (logs / name).write_text("".join(f"{line}\n" for line in lines))
        config = collector_config.render(CollectorSettings(store_url=store.otlp_url, cluster="c",
                                                           storage_dir=str(tmp_path / "state")))
        collector = Collector(processes, tmp_path / "collector", config, {RAY_TEMP_DIR: str(tmp_path / "ray")},
                              {NODE_ENV: "n", NODE_TYPE_ENV: "head"}, telemetry_port=free_port())
        collector.start()
        count = sum(map(len, files.values()))
        wait_until(lambda: len(store.query("*")) == count, 60,
                   f"{count} lines in the store (see {tmp_path / 'collector' / 'collector.log'})")
        return {r["_msg"]: r for r in store.query("*")}
    finally:
        processes.stop_all()


def test_a_json_line_names_its_job_worker_task_and_level(tmp_path):
    lines = [ray_json_line("step 1 done", logging.INFO), ray_json_line("loss is nan", logging.WARNING),
             "a plain print from the same worker"]
    records = shipped(tmp_path, {POOL_FILE: lines})
    step, nan, plain = (records[line] for line in lines)
    for record in (step, nan):
        assert json.loads(record["_msg"])["job_id"] == "02000000", "the line as Ray wrote it"
        assert (record["ray_job_id"], record["ray_worker_id"], record["ray_task_id"]) == (
            "02000000", WORKER_ID, CONTEXT["task_id"])
        assert not [k for k in record if k.startswith("ray_json")], "the parsed map is not sent"
    # OTLP's severity numbers: 9 INFO, 13 WARN (the data model's SeverityNumber); Loki reads them as the level.
    assert [(r["severity_text"], r["severity_number"]) for r in (step, nan)] == [("INFO", "9"), ("WARNING", "13")]
    assert plain.get("severity_number", "0") == "0", "a plain line has no level"
    assert "ray_job_id" not in plain and plain["ray_worker_id"] == WORKER_ID  # from the file's name


# Lines as a Ray 2.60 session wrote them (raylet.out, gcs_server.out, monitor.log), and levels they may carry.
RAYLET = "[2026-12-04 03:00:51,640 I 29194 29194] (raylet) main.cc:283: Setting cluster ID to: 14e319e6"
GCS_WARNING = "[2026-12-04 03:00:50,113 W 29106 29106] (gcs_server) gcs_server.cc:301: a warning"
GCS_FATAL = "[2026-12-04 03:00:50,113 C 29106 29106] (gcs_server) gcs_server.cc:302: a check failed"
MONITOR = "2026-12-04 03:00:50,825\tINFO monitor.py:730 -- Starting monitor using ray installation"
MONITOR_ERROR = "2026-12-04 03:00:50,826\tERROR monitor.py:731 -- an error"
NOT_A_LEVEL = "[2026-12-04] I am a task's own print"


def test_rays_own_plain_lines_carry_their_level(tmp_path):
    records = shipped(tmp_path, {"raylet.out": [RAYLET], "gcs_server.out": [GCS_WARNING, GCS_FATAL],
                                 "monitor.log": [MONITOR, MONITOR_ERROR], POOL_FILE: [NOT_A_LEVEL]})
    levels = {line: record.get("severity_number", "0") for line, record in records.items()}
    # OTLP's SeverityNumber: 9 INFO, 13 WARN, 17 ERROR, 21 FATAL; 0 unset.
    assert levels == {RAYLET: "9", GCS_WARNING: "13", GCS_FATAL: "21", MONITOR: "9", MONITOR_ERROR: "17",
                      NOT_A_LEVEL: "0"}
    assert not [r for r in records.values() if "ray_level" in r], "the parsed letter is not sent"
