"""Alerts reach someone, live: a real Ray cluster, Prometheus with the aws stack's configuration and
rules, and the real Alertmanager (the version the stacks ship) configured as the stack deploys it, its
receiver pointed at a webhook this test runs on 127.0.0.1. A worker's metrics endpoint stops (SIGSTOP: the node stays in
Ray's discovery, its scrapes time out), a firing RayScrapeTargetDown arrives; it resumes, a resolved
notification follows."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import yaml

from components.builders.alert_rules import FILE_NAME as RULES_FILE
from support.live import LOOPBACK, WORKLOAD, Processes, Prometheus, on_loopback, tool, wait_until
from support.loopback import LoopbackServer, QuietHandler
from support.pulumi_internals import reveal
from support.stacks import run_stack

WEBHOOK_PORT = 5001
ALERTMANAGER_PORT = 9093
PROMETHEUS_PORT = 9094
WORKER_METRICS_PORT = 8081
# Short on purpose, so the test takes a minute; docs/alerting.md gives the figure for the defaults too.
SETTINGS = {"alertTargetDownFor": "10s", "alertGroupWait": "5s", "alertGroupInterval": "10s"}


class Webhook:
    """Records every notification Alertmanager posts, with the time it arrived."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict]] = []
        hook = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.received.append((time.monotonic(), json.loads(body)))
                self.send(200, b"")

        self.server = LoopbackServer(Handler, WEBHOOK_PORT).start()

    def first(self, status: str, alertname: str, after: float) -> tuple[float, dict] | None:
        for at, payload in self.received:
            if at >= after and payload["status"] == status and payload["commonLabels"].get("alertname") == alertname:
                return at, payload
        return None

    def wait_for(self, status: str, alertname: str, after: float, timeout: float = 120) -> tuple[float, dict]:
        """The first `status` notification of `alertname` since `after`; fails after `timeout` seconds."""
        wait_until(lambda: self.first(status, alertname, after), timeout, f"a {status} {alertname} notification")
        return self.first(status, alertname, after)

    def stop(self) -> None:
        self.server.stop()


def listener(port: int) -> int:
    """The pid serving a Ray node's metrics endpoint: its listening socket's inode, found in /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                if os.readlink(fd) in {f"socket:[{inode}]" for inode in inodes}:
                    return int(fd_dir.parent.name)
        except OSError:  # a process that ended, or one we may not read
            continue
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def alerting(live):
    receivers = [{"name": "hook", "type": "webhook", "url": f"http://{LOOPBACK}:{WEBHOOK_PORT}/hook"}]
    stack = run_stack("aws", secrets={"alertReceivers": receivers}, **SETTINGS)
    assert stack.error is None, stack.error
    files = stack.config()
    workdir = live.workdir / "alerting"
    workdir.mkdir()
    (workdir / "alertmanager.yml").write_text(
        reveal(stack.one("aws:ssm/parameter:Parameter", "alertmanager-config-parameter").inputs["value"]))
    rules = workdir / RULES_FILE
    rules.write_text(files[f"/opt/ray-monitoring/prometheus/{RULES_FILE}"])
    deployed = yaml.safe_load(files["/opt/ray-monitoring/prometheus/prometheus.yml"])
    config = on_loopback(deployed, live.ray.sd_file, rules)
    assert config["alerting"]["alertmanagers"][0]["static_configs"] == [
        {"targets": [f"127.0.0.1:{ALERTMANAGER_PORT}"]}]
    for job in config["scrape_configs"]:
        if job["job_name"] == "prometheus":
            job["static_configs"] = [{"targets": [f"localhost:{PROMETHEUS_PORT}"]}]
    webhook = Webhook()
    processes = Processes()
    try:
        processes.start("alertmanager", [
            tool("alertmanager"), f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'alertmanager-data'}", f"--web.listen-address={LOOPBACK}:{ALERTMANAGER_PORT}",
            "--cluster.listen-address="], workdir / "alertmanager.log")
        prometheus = Prometheus(processes, workdir / "prometheus", config, port=PROMETHEUS_PORT)
        prometheus.start()
        wait_until(lambda: prometheus.target_up("ray", f"{LOOPBACK}:{WORKER_METRICS_PORT}"), 60, "the worker scraped")
        wait_until(lambda: any(a["health"] == "up" for a in _alertmanagers(prometheus)), 30,
                   "Prometheus connected to Alertmanager")
        yield prometheus, webhook
    finally:
        processes.stop_all()
        webhook.stop()


def _alertmanagers(prometheus: Prometheus) -> list[dict]:
    from support.live import http_json

    active = http_json(f"{prometheus.url}/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    return [{"health": "up"} for _ in active]


def test_a_stopped_worker_pages_and_its_recovery_resolves(alerting, live):
    prometheus, webhook = alerting
    exporter = listener(WORKER_METRICS_PORT)
    stopped_at = time.monotonic()
    os.kill(exporter, signal.SIGSTOP)
    try:
        arrived, payload = webhook.wait_for("firing", "RayScrapeTargetDown", stopped_at)
    finally:
        resumed_at = time.monotonic()
        os.kill(exporter, signal.SIGCONT)
    (alert,) = [a for a in payload["alerts"] if a["labels"]["instance"] == f"{LOOPBACK}:{WORKER_METRICS_PORT}"]
    assert alert["labels"]["ray_io_cluster"] == "ray-cluster" and alert["labels"]["severity"] == "warning"
    assert payload["groupLabels"] == {"alertname": "RayScrapeTargetDown", "ray_io_cluster": "ray-cluster"}
    assert "down for 10s" in alert["annotations"]["description"]
    resolved_at, _ = webhook.wait_for("resolved", "RayScrapeTargetDown", resumed_at)
    figures = {"stop to firing notification": arrived - stopped_at,
               "recovery to resolved notification": resolved_at - resumed_at}
    print(f"alerting figures with {SETTINGS}, scrapeInterval 5s: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in figures.items()))
    # For 10s after 1-2 failed 5 s scrapes, a 5 s evaluation, a 5 s group wait: well under a minute.
    assert figures["stop to firing notification"] < 60
    # A stopped exporter starts its task gauges afresh: run the workload again and wait until the
    # session's Prometheus has its task counts back, so later live tests find the cluster as it was.
    live.ray.run(WORKLOAD)

    def counted(state: str, at_least: float) -> bool:
        found = live.prometheus.query(f'sum(ray_tasks{{State="{state}"}})')
        return bool(found) and float(found[0]["value"][1]) >= at_least

    wait_until(lambda: counted("FINISHED", 50) and counted("FAILED", 1), 120, "task counts back after the fault")
