"""remote_write blocks for every auth kind, through the real promtool (normal and agent mode)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from components.builders import prometheus_config, remote_write
from components.builders.remote_write import RemoteWriteTarget, StoreAuth
from components.builders.sizing import size
from support.tools import promtool

TARGETS = {
    "none": RemoteWriteTarget("http://thanos-receive.monitoring:19291/api/v1/receive", StoreAuth("none")),
    "basic": RemoteWriteTarget("https://mimir.example.com/api/v1/push", StoreAuth("basic", username="ray")),
    "bearer": RemoteWriteTarget("https://vm.example.com/api/v1/write", StoreAuth("bearer")),
    "sigv4": RemoteWriteTarget("https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-0123/api/v1/remote_write",
                               StoreAuth("sigv4", region="us-west-2")),
}


def check(path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), "check", "config", *flags, str(path)], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("kind", sorted(TARGETS))
@pytest.mark.parametrize("agent", [False, True])
def test_each_auth_passes_promtool(kind, agent, tmp_path):
    config = prometheus_config.file_sd_config(prometheus_config.ScrapeSettings("5s"), "ray-cluster")
    config["remote_write"] = remote_write.remote_write_block((TARGETS[kind],), 1200, str(tmp_path))
    path = tmp_path / "prometheus.yml"
    path.write_text(prometheus_config.render(config))
    result = check(path, *(["--agent"] if agent else []))
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr
    (entry,) = yaml.safe_load(path.read_text())["remote_write"]
    secret = remote_write.secret_file(0, TARGETS[kind].auth)
    if secret:  # the credential is a file Prometheus reads, never a value in prometheus.yml
        assert f"{tmp_path}/{secret}" in (entry.get("basic_auth", {}).get("password_file"),
                                          entry.get("authorization", {}).get("credentials_file"))
    assert "password:" not in path.read_text() and "credentials:" not in path.read_text()


def test_promtool_rejects_a_broken_block(tmp_path):
    config = prometheus_config.file_sd_config(prometheus_config.ScrapeSettings("5s"), "ray-cluster")
    config["remote_write"] = remote_write.remote_write_block((TARGETS["basic"],), 1200, str(tmp_path))
    config["remote_write"][0]["basic_auth"]["password"] = "both"  # password and password_file
    path = tmp_path / "prometheus.yml"
    path.write_text(prometheus_config.render(config))
    assert check(path).returncode != 0


def test_queue_follows_the_sizing_model():
    small, large = (remote_write.queue_config(size(nodes, "5s", "15d").samples_per_second) for nodes in (10, 2000))
    assert small["max_shards"] == remote_write.MIN_SHARDS
    assert large["max_shards"] > small["max_shards"]
    samples = size(2000, "5s", "15d").samples_per_second
    assert large["max_shards"] * remote_write.SHARD_SAMPLES_PER_SECOND >= samples * remote_write.CATCH_UP
    assert small["capacity"] >= 3 * small["max_samples_per_send"]
