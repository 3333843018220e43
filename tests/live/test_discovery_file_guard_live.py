"""A Ray job's code may write Ray's discovery file on the EC2 head (it is Ray's user's): a target whose own
labels choose the scrape's path, query or scheme would turn Prometheus into a GET proxy into the VPC. The
aws stack's prometheus.yml, run by a real Prometheus, against a forged file and a stand-in that records
what it is asked."""

from __future__ import annotations

import json
import threading

import yaml

from support.live import Processes, Prometheus, wait_until
from support.loopback import LOOPBACK, LoopbackServer, QuietHandler, free_port
from support.stacks import run_stack


class Recorder(QuietHandler):
    paths: list[str] = []
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        with self.lock:
            self.paths.append(self.path)
        self.send(200, b"forged_metric 1\n", "text/plain; version=0.0.4")


def test_a_forged_discovery_target_is_scraped_only_at_metrics(tmp_path):
    stack = run_stack("aws")
    assert stack.error is None, stack.error
    config = yaml.safe_load(stack.config()["/opt/ray-monitoring/prometheus/prometheus.yml"])
    server = LoopbackServer(Recorder).start()
    forged = tmp_path / "prom_metrics_service_discovery.json"
    forged.write_text(json.dumps([{"targets": [server.url.removeprefix("http://")], "labels": {
        "job": "ray", "__metrics_path__": "/latest/meta-data/iam/security-credentials/",
        "__param_target": "http://10.0.0.1:9200/_search", "__scheme__": "http"}}]))
    for job in config["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [str(forged)]
    config.pop("rule_files", None)
    processes = Processes()
    prometheus = Prometheus(processes, tmp_path / "prometheus", config, port=free_port())
    try:
        prometheus.start()
        wait_until(lambda: bool(Recorder.paths), 60, "Prometheus scrapes the forged target")
        assert set(Recorder.paths) == {"/metrics"}, Recorder.paths
        (target,) = [t for t in prometheus.targets() if t["labels"]["job"] == "ray"]
        assert target["scrapeUrl"] == f"{server.url}/metrics"
    finally:
        processes.stop_all()
        server.stop()
    assert LOOPBACK in server.url
