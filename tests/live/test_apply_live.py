"""The aws head's reload path against a real Prometheus: the apply script (boto3, moto's S3 and SSM)
writes the changed prometheus.yml and sends SIGHUP through `docker compose kill` (the stand-in
delivers it to the local process); Prometheus applies the change and keeps its data."""

from __future__ import annotations

import time

import pytest

from support.aws_head import GrafanaAdmin, Head, moto_server
from support.live import Processes, Prometheus, http_json, wait_until
from support.loopback import LoopbackServer, free_port
from support.stacks import run_stack

SIZED = {"retentionSize": "20GB", "prometheusMemoryLimit": "2Gi"}  # so a new interval is a reload alone


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    yield from moto_server(tmp_path_factory.mktemp("moto"))


def test_a_changed_configuration_is_applied_by_signal_and_keeps_the_data(moto, tmp_path):
    grafana = LoopbackServer(GrafanaAdmin).start()
    processes = Processes()
    try:
        before = run_stack("aws", **SIZED)
        head = Head(moto, tmp_path, before.one("aws:ec2/instance:Instance", "head-instance").plain["userData"],
                    grafana)
        head.seed(before)
        assert head.apply().returncode == 0
        config = head.file("/opt/ray-monitoring/prometheus/prometheus.yml")
        prometheus = Prometheus(processes, tmp_path / "prometheus", config, port=free_port())
        prometheus.start()
        started = prometheus.own_metric("process_start_time_seconds")
        # A few samples of its own under the first configuration (5 s interval).
        wait_until(lambda: prometheus.query('count_over_time(up{job="prometheus"}[5m]) >= 3'), 60,
                   "three scrapes under the first configuration")
        first_sample = float(prometheus.query('timestamp(up{job="prometheus"} offset 1s)')[0]["value"][1])

        head.docker_calls()
        head.seed(run_stack("aws", scrapeInterval="15s", **SIZED))
        head.extra_env["SIGNAL_PID"] = str(prometheus.process.pid)
        applied_at = time.time()
        report = head.apply()
        assert report.returncode == 0, report.stderr
        assert head.docker_calls() == [["kill", "-s", "SIGHUP", "prometheus"]]

        def reloaded() -> bool:
            return prometheus.own_metric("prometheus_config_last_reload_success_timestamp_seconds") >= applied_at - 1

        wait_until(reloaded, 30, "Prometheus reloaded its configuration")
        assert prometheus.own_metric("prometheus_config_last_reload_successful") == 1
        assert "scrape_interval: 15s" in http_json(f"{prometheus.url}/api/v1/status/config")["data"]["yaml"]
        assert prometheus.process.poll() is None and prometheus.own_metric("process_start_time_seconds") == started, \
            "the same process: reloaded, not restarted"
        # The samples scraped before the change are still there.
        reply = http_json(f"{prometheus.url}/api/v1/query?query=up%7Bjob%3D%22prometheus%22%7D&time={first_sample}")
        assert reply["data"]["result"], "the samples from before the reload are gone"
    finally:
        processes.stop_all()
        grafana.stop()
