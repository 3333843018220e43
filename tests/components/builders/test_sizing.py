"""Prometheus sized from the Ray cluster: the model, overrides, and the values both stacks deploy."""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request

import pytest
import yaml

from components.builders.sizing import (
    NODE_EXPORTER_PLANNED_VCPUS,
    NODE_EXPORTER_SERIES,
    RECORDED_SERIES,
    RECORDED_SERIES_PER_NODE,
    bytes_of,
    seconds,
    size,
    table,
)
from stacks.settings import ConfigError
from support.loopback import LOOPBACK, free_port
from support.paths import PROJECT_ROOT
from support.pod_network import LINK_PREFIX
from support.stacks import run_stack
from support.tools import tool


def mib(quantity: str) -> float:
    return bytes_of(quantity) / 2**20


def test_matches_the_measured_model_at_10s():
    """The measured sizes at a 10 s scrape (docs/sizing.md): 10 nodes 128Mi/256Mi, 100 nodes 512Mi/1Gi and
    ~25Gi for 15d, 500 nodes 2Gi/4Gi and ~120Gi for 15d."""
    ten, hundred, five_hundred = (size(n, "10s", "15d") for n in (10, 100, 500))
    assert (ten.memory_request, ten.memory_limit) == ("128Mi", "256Mi")
    assert (hundred.memory_request, hundred.memory_limit) == ("512Mi", "1Gi")
    assert (five_hundred.memory_request, five_hundred.memory_limit) == ("2Gi", "4Gi")
    assert 20 <= mib(hundred.volume_size) / 1024 <= 30
    assert 100 <= mib(five_hundred.volume_size) / 1024 <= 130
    assert ten.series == 1500 + 9 * 500 + RECORDED_SERIES + 10 * RECORDED_SERIES_PER_NODE


@pytest.mark.parametrize("interval", ["5s", "10s", "30s"])
def test_monotonic_in_nodes_and_retention(interval):
    previous = None
    for nodes in (1, 2, 10, 50, 100, 250, 500, 1000):
        current = size(nodes, interval, "15d")
        if previous:
            assert current.series > previous.series
            assert current.working_set_mib > previous.working_set_mib
            assert mib(current.memory_limit) >= mib(previous.memory_limit)
            assert bytes_of(current.retention_size) >= bytes_of(previous.retention_size)
            assert bytes_of(current.volume_size) >= bytes_of(previous.volume_size)
        previous = current
    retentions = [size(100, interval, r) for r in ("2h", "6h", "1d", "7d", "15d", "30d")]
    assert all(a.disk_bytes < b.disk_bytes for a, b in zip(retentions, retentions[1:]))
    assert all(bytes_of(a.retention_size) <= bytes_of(b.retention_size) for a, b in zip(retentions, retentions[1:]))


def test_faster_scrapes_cost_more_disk_and_cpu():
    fast, slow = size(100, "5s", "15d"), size(100, "10s", "15d")
    assert fast.disk_bytes > 1.8 * slow.disk_bytes
    assert fast.samples_per_second == 2 * slow.samples_per_second
    assert fast.working_set_mib > slow.working_set_mib


def test_volume_holds_the_retention_cap():
    for nodes in (1, 10, 100, 500):
        for retention in ("6h", "15d"):
            s = size(nodes, "5s", retention)
            assert bytes_of(s.retention_size) >= s.disk_bytes, "the cap is above the estimate"
            assert bytes_of(s.retention_size) <= 0.85 * bytes_of(s.volume_size), "the cap fits the volume"
            assert mib(s.memory_request) >= s.working_set_mib


def test_durations():
    assert seconds("15d") == 15 * 86400 and seconds("1h30m") == 5400 and seconds("500ms") == 0.5


def test_computed_values_land_in_the_minikube_stack():
    result = run_stack("minikube", rayNodes="100", retentionTime="6h", prometheusStorage="persistentVolumeClaim")
    assert result.error is None, result.error
    expected = size(100, "5s", "6h")
    container = result.one("kubernetes:apps/v1:Deployment", "prometheus-deployment").plain[
        "spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": expected.cpu_request, "memory": expected.memory_request},
        "limits": {"cpu": expected.cpu_limit, "memory": expected.memory_limit},
    }
    assert f"--storage.tsdb.retention.size={expected.retention_size}" in container["args"]
    claim = result.one("kubernetes:core/v1:PersistentVolumeClaim", "prometheus-data").plain
    assert claim["spec"]["resources"]["requests"]["storage"] == expected.volume_size


def test_computed_values_land_in_the_aws_stack():
    result = run_stack("aws", rayNodes="250")
    assert result.error is None, result.error
    # The head's Prometheus scrapes node_exporter on every node too: its series are in the plan.
    expected = size(250, "5s", "15d", node_exporter=True)
    assert expected.series == size(250, "5s", "15d").series + 250 * NODE_EXPORTER_SERIES
    compose = yaml.safe_load(result.config()["/opt/ray-monitoring/compose.yaml"])
    prometheus = compose["services"]["prometheus"]
    assert f"--storage.tsdb.retention.size={expected.retention_size}" in prometheus["command"]
    assert prometheus["mem_limit"] == expected.memory_limit.replace("Gi", "g").replace("Mi", "m")


def test_explicit_values_win():
    result = run_stack("minikube", rayNodes="500", prometheusMemoryLimit="3Gi", prometheusMemoryRequest="1Gi",
                       retentionSize="5GB", prometheusStorageSize="8Gi", prometheusCpuLimit="3")
    assert result.error is None, result.error
    container = result.one("kubernetes:apps/v1:Deployment", "prometheus-deployment").plain[
        "spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "3", "memory": "3Gi"}
    assert container["resources"]["requests"]["memory"] == "1Gi"
    assert container["resources"]["requests"]["cpu"] == size(500, "5s", "15d").cpu_request
    assert "--storage.tsdb.retention.size=5GB" in container["args"]
    volume = next(v for v in result.one("kubernetes:apps/v1:Deployment", "prometheus-deployment").plain[
        "spec"]["template"]["spec"]["volumes"] if v["name"] == "data")
    assert volume == {"name": "data", "emptyDir": {"sizeLimit": "8Gi"}}


@pytest.mark.parametrize("overrides,key", [
    ({"rayNodes": "0"}, "rayNodes"),
    ({"rayNodes": "ten"}, "rayNodes"),
    ({"retentionSize": "50GB", "prometheusStorageSize": "10Gi"}, "retentionSize"),
    # below the computed request (512Mi at 100 nodes)
    ({"rayNodes": "100", "prometheusMemoryLimit": "256Mi"}, "prometheusMemoryRequest"),
])
def test_bad_sizing_input_is_refused(overrides, key):
    result = run_stack("minikube", **overrides)
    assert isinstance(result.error, ConfigError), result.error
    assert any(p.startswith(f"ray-monitoring:{key} = ") for p in result.error.problems), result.error.problems
    assert result.resources == []


def test_small_head_instance_gets_a_clear_warning():
    quiet = run_stack("aws")
    assert quiet.error is None and not [line for line in quiet.logs if "headInstanceType" in line]
    loud = run_stack("aws", rayNodes="500", headInstanceType="m5.large")
    assert loud.error is None, loud.error
    (warning,) = [line for line in loud.logs if "headInstanceType" in line]
    assert "'m5.large'" in warning and "500 Ray nodes" in warning and "Fix:" in warning


def test_the_docs_table_is_generated_from_the_model():
    readme = (PROJECT_ROOT / "docs" / "sizing.md").read_text()
    assert table() in readme, "paste the output of: venv/bin/python -m components.builders.sizing"
    assert re.search(r"prometheus_tsdb_head_series", readme)


def node_exporter_series() -> tuple[int, int]:
    """(series, series per CPU) a real node_exporter serves here with its default collectors (the
    image's command adds only --path.rootfs)."""
    port = free_port()
    process = subprocess.Popen([tool("node_exporter"), f"--web.listen-address={LOOPBACK}:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                text = urllib.request.urlopen(f"http://{LOOPBACK}:{port}/metrics", timeout=5).read().decode()  # noqa: S310
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "node_exporter did not answer"
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(10)
    # Not the links the discovery scenario may have made here meanwhile (a node has none of them).
    samples = [line for line in text.splitlines() if line and not line.startswith("#")
               and f'device="{LINK_PREFIX}' not in line]
    per_cpu = [line for line in samples if 'cpu="' in line]
    return len(samples), len(per_cpu) // (os.cpu_count() or 1)


def test_node_exporters_series_fit_the_plan_per_node():
    series, per_cpu = node_exporter_series()
    base = series - per_cpu * (os.cpu_count() or 1)
    print(f"node_exporter here: {series} series, {base} + {per_cpu} per CPU")
    assert per_cpu > 0 and base > 100, "a real node_exporter answered"
    assert base + per_cpu * NODE_EXPORTER_PLANNED_VCPUS <= NODE_EXPORTER_SERIES
