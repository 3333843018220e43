"""Remote write against two real Prometheus processes: the deployed scrape configuration (real Ray,
5 s scrapes) writing to a receiver (`--web.enable-remote-write-receiver`). The receiver is stopped
for 60 s while Ray runs; afterwards the samples of one Ray series it lacks for that window are
counted (the figure is in the README, with the queue settings below)."""

from __future__ import annotations

import time

from aws_head import free_port
from live.harness import LOOPBACK, Processes, Prometheus, http_json, on_loopback, wait_until

from components.builders import prometheus_config, remote_write
from components.builders.sizing import size

OUTAGE_SECONDS = 60
SERIES = f'ray_node_cpu_utilization{{instance="{LOOPBACK}:8080"}}'


def raw_timestamps(prometheus: Prometheus, start: float, end: float) -> set[float]:
    reply = http_json(f"{prometheus.url}/api/v1/query?query={SERIES}[{int(end - start)}s]&time={end}".replace(
        "{", "%7B").replace("}", "%7D").replace('"', "%22"))
    assert reply["status"] == "success", reply
    return {float(t) for series in reply["data"]["result"] for t, _ in series["values"]}


def test_a_store_away_for_60_s_loses_no_sample(live, tmp_path):
    sizing = size(10, "5s", "15d")
    processes = Processes()
    receiver = Prometheus(processes, tmp_path / "receiver", {"global": {"scrape_interval": "1h"}}, port=free_port())
    config = prometheus_config.file_sd_config(prometheus_config.ScrapeSettings("5s"), "ray-cluster")
    config["remote_write"] = remote_write.remote_write_block(
        (remote_write.RemoteWriteTarget(f"{receiver.url}/api/v1/write", remote_write.StoreAuth("none")),),
        sizing.samples_per_second)
    sender = Prometheus(processes, tmp_path / "sender", on_loopback(config, live.ray.sd_file, None), port=free_port())
    try:
        receiver.start(30, "--web.enable-remote-write-receiver")
        sender.start()
        wait_until(lambda: receiver.query(SERIES), 60, "Ray series at the receiver")
        (sample,) = receiver.query(SERIES)
        assert sample["metric"]["ray_io_cluster"] == "ray-cluster"

        stopped_at = time.time()
        processes.stop(receiver.process)
        time.sleep(OUTAGE_SECONDS)
        receiver.start(60, "--web.enable-remote-write-receiver")
        restarted_at = time.time()
        end = restarted_at + 15

        def caught_up() -> bool:  # the receiver holds a sample newer than the window: the backlog is in
            now = time.time()
            return now > end + 10 and max(raw_timestamps(receiver, stopped_at - 15, now), default=0) > end

        wait_until(caught_up, 120, "the receiver caught up with the backlog", interval=1)
        sent = raw_timestamps(sender, stopped_at - 15, end)
        received = raw_timestamps(receiver, stopped_at - 15, end)
        missing = sent - received
        queue = config["remote_write"][0]["queue_config"]
        print(f"remote write: {len(sent)} samples of {SERIES} in the {end - stopped_at + 15:.0f} s around a "
              f"{OUTAGE_SECONDS} s outage; the receiver lacks {len(missing)}; queue {queue}")
        assert len(sent) >= (OUTAGE_SECONDS + 30) / 5 - 3, "the sender itself scraped too little"
        assert not missing, (f"{len(missing)} samples lost across the outage, at "
                             f"{[round(m - stopped_at, 1) for m in sorted(missing)]} s from the stop "
                             f"(restarted at {restarted_at - stopped_at:.1f} s)")
    finally:
        processes.stop_all()
