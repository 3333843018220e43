"""Remote write against two real Prometheus processes: the aws stack's deployed prometheus.yml with a
`remoteWrite` store (real Ray, 5 s scrapes) writing to a receiver (`--web.enable-remote-write-receiver`).
The receiver is stopped for 60 s while Ray runs; afterwards the samples of one Ray series it lacks for
that window are counted (the figure is in docs/remote-storage.md, with the queue settings below). The doctor's
remote write check follows the store away and back. In agent mode the same configuration forwards
without local storage."""

from __future__ import annotations

import time
import urllib.request

import yaml

from doctor.checks import Expectations, Findings, prometheus, remote_write_health
from doctor.http import Http
from support.live import LOOPBACK, Processes, Prometheus, http_json, on_loopback, wait_until
from support.loopback import free_port
from support.stacks import run_stack

OUTAGE_SECONDS = 60
SERIES = f'ray_node_cpu_utilization{{instance="{LOOPBACK}:8080"}}'
QUERY = "https://mimir.example.com/prometheus"  # never called: Grafana's and Ray's side of agent mode


def deployed_config(live, receiver: Prometheus, **settings) -> dict:
    """The aws stack's prometheus.yml with the receiver as its `remoteWrite` store, on 127.0.0.1."""
    stack = run_stack("aws", remoteWrite=[{"url": f"{receiver.url}/api/v1/write"}], **settings)
    assert stack.error is None, stack.error
    deployed = yaml.safe_load(stack.config()["/opt/ray-monitoring/prometheus/prometheus.yml"])
    return on_loopback(deployed, live.ray.sd_file, None)


def raw_timestamps(prometheus: Prometheus, start: float, end: float) -> set[float]:
    reply = http_json(f"{prometheus.url}/api/v1/query?query={SERIES}[{int(end - start)}s]&time={end}".replace(
        "{", "%7B").replace("}", "%7D").replace('"', "%22"))
    assert reply["status"] == "success", reply
    return {float(t) for series in reply["data"]["result"] for t, _ in series["values"]}


def health(sender: Prometheus) -> tuple[bool, str]:
    return remote_write_health(urllib.request.urlopen(f"{sender.url}/metrics", timeout=5).read().decode())  # noqa: S310


def test_a_store_away_for_60_s_loses_no_sample(live, tmp_path):
    processes = Processes()
    receiver = Prometheus(processes, tmp_path / "receiver", {"global": {"scrape_interval": "1h"}}, port=free_port())
    config = deployed_config(live, receiver)
    sender = Prometheus(processes, tmp_path / "sender", config, port=free_port())
    try:
        receiver.start(30, "--web.enable-remote-write-receiver")
        sender.start()
        wait_until(lambda: receiver.query(SERIES), 60, "Ray series at the receiver")
        (sample,) = receiver.query(SERIES)
        assert sample["metric"]["ray_io_cluster"] == "ray-cluster"
        ok, detail = health(sender)
        assert ok, detail

        stopped_at = time.time()
        processes.stop(receiver.process)
        # The doctor sees the store fall behind while it is away.
        wait_until(lambda: not health(sender)[0], OUTAGE_SECONDS - 5, "the doctor reports the store behind")
        ok, detail = health(sender)
        assert "behind" in detail, detail
        time.sleep(max(0.0, stopped_at + OUTAGE_SECONDS - time.time()))
        receiver.start(60, "--web.enable-remote-write-receiver")
        restarted_at = time.time()
        end = restarted_at + 5

        # The receiver holds a sample newer than the window: the backlog is in, since one series' samples go
        # through one shard, in order (Prometheus' storage/remote/queue_manager.go shards by series reference).
        def caught_up() -> bool:
            now = time.time()
            return now > end + 5 and max(raw_timestamps(receiver, stopped_at - 15, now), default=0) > end

        wait_until(caught_up, 120, "the receiver caught up with the backlog", interval=1)
        sent = raw_timestamps(sender, stopped_at - 15, end)
        received = raw_timestamps(receiver, stopped_at - 15, end)
        missing = sent - received
        queue = config["remote_write"][0]["queue_config"]
        print(f"remote write: {len(sent)} samples of {SERIES} in the {end - stopped_at + 15:.0f} s around a "
              f"{OUTAGE_SECONDS} s outage; the receiver lacks {len(missing)}; queue {queue}")
        assert len(sent) >= (OUTAGE_SECONDS + 20) / 5 - 3, "the sender itself scraped too little"
        assert not missing, (f"{len(missing)} samples lost across the outage, at "
                             f"{[round(m - stopped_at, 1) for m in sorted(missing)]} s from the stop "
                             f"(restarted at {restarted_at - stopped_at:.1f} s)")
        ok, detail = health(sender)
        assert ok, detail
    finally:
        processes.stop_all()


def test_agent_mode_forwards_ray_series_and_the_doctor_checks_what_an_agent_answers(live, tmp_path):
    processes = Processes()
    receiver = Prometheus(processes, tmp_path / "receiver", {"global": {"scrape_interval": "1h"}}, port=free_port())
    config = deployed_config(live, receiver, prometheusAgent="true", grafanaQueryUrl=QUERY)
    assert "rule_files" not in config
    agent = Prometheus(processes, tmp_path / "agent", config, port=free_port())
    try:
        receiver.start(30, "--web.enable-remote-write-receiver")
        agent.start(30, agent=True)
        wait_until(lambda: receiver.query(SERIES), 60, "Ray series at the receiver")
        (sample,) = receiver.query(SERIES)
        assert sample["metric"]["ray_io_cluster"] == "ray-cluster"
        # Nothing to query on an agent: what the dashboards need is at the store.
        assert urllib.request.urlopen(f"{agent.url}/-/ready", timeout=5).status == 200  # noqa: S310
        results = prometheus(Http(timeout=5), agent.url, Expectations(prometheus_agent=True, remote_writes=1,
                                                                    ray_nodes=10), Findings())
        by_check = {r.check: r for r in results}
        assert [r.check for r in results if r.ok] == ["Prometheus ready", "Prometheus configuration loaded",
                                                       "remote write keeps up"], [vars(r) for r in results]
        assert not [r for r in results if r.ok is False]
        assert "agent mode" in by_check["every live Ray node scraped"].detail
    finally:
        processes.stop_all()
