"""The live tier's shared cluster: one real Ray cluster and Prometheus for the tests that read it."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.pulumi_internals import reveal
from support.stacks import run_stack


@dataclass
class LiveCluster:
    """A real Ray head and worker, node_exporter and Prometheus running the aws stack's config."""

    ray: Any
    prometheus: Any
    workdir: Path
    head_found_after: float  # seconds from `ray start --head` returning to Prometheus' first Ray scrape
    worker_found_after: float  # seconds from the worker's `ray start` returning to its first scrape
    token: str  # Ray's token: the cluster runs token authentication, as the stack deploys it


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    """One Ray cluster for all live tests (Ray takes ~10 s to start on 2 cores)."""
    from components.builders.alert_rules import FILE_NAME
    from support.live import (
        LOOPBACK,
        WORKLOAD,
        Processes,
        Prometheus,
        RayCluster,
        on_loopback,
        tool,
        wait_until,
    )

    stack = run_stack("aws")
    assert stack.error is None, stack.error
    files = stack.config()
    compose = yaml.safe_load(files["/opt/ray-monitoring/compose.yaml"])
    head_env = {k: v for k, v in compose["services"]["ray-head"]["environment"].items()
                if not v.startswith("${")}
    # The iframe host is written on the head; without allowedCidrs it is the tunnel's, as the stack says.
    head_env["RAY_GRAFANA_IFRAME_HOST"] = stack.doctor["iframeHost"]
    token = reveal(stack.outputs["rayAuthToken"])

    workdir = tmp_path_factory.mktemp("live")
    processes = Processes()
    # Ray's socket paths must stay within 107 bytes: its temp dir sits at the top of /tmp, not in the
    # per-worker folders pytest -n makes.
    ray_dir = Path(tempfile.mkdtemp(prefix="ray-live-"))
    # The token where RAY_AUTH_TOKEN_PATH points on this machine (the head's Compose secret otherwise).
    token_file = ray_dir / "auth-token"
    token_file.write_text(token)
    token_file.chmod(0o400)
    assert head_env["RAY_AUTH_MODE"] == "token", "the stack deploys token authentication"
    ray = RayCluster(ray_dir, {**head_env, "RAY_AUTH_TOKEN_PATH": str(token_file)})
    rules = workdir / FILE_NAME
    rules.write_text(files[f"/opt/ray-monitoring/prometheus/{FILE_NAME}"])
    config = on_loopback(yaml.safe_load(files["/opt/ray-monitoring/prometheus/prometheus.yml"]), ray.sd_file, rules)
    prometheus = Prometheus(processes, workdir / "prometheus", config)
    try:
        processes.start("node_exporter", [tool("node_exporter"),
                                          f"--web.listen-address={LOOPBACK}:9100"], workdir / "node_exporter.log")
        # Prometheus first, before Ray's temp dir even exists: the discovery trap docs/sizing.md describes.
        prometheus.start()
        ray.start_head()  # returns once Ray is up; its discovery file exists from then on
        # 120 s: past the test's bound, so a slow discovery fails there with its figure, not here.
        head_found_after = wait_until(lambda: prometheus.target_up("ray", f"{LOOPBACK}:8080"), 120,
                                      "the Ray head scraped")
        ray.add_worker(8081)
        worker_found_after = wait_until(lambda: prometheus.target_up("ray", f"{LOOPBACK}:8081"), 120,
                                        "the Ray worker scraped")
        ray.run(WORKLOAD)
        yield LiveCluster(ray, prometheus, workdir, head_found_after, worker_found_after, token)
    finally:
        ray.stop()
        processes.stop_all()
        shutil.rmtree(ray_dir, ignore_errors=True)
