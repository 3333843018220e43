"""What the tests run is what the stacks ship: Prometheus, promtool, Alertmanager, amtool and node_exporter,
built from their Go modules (support/go_tools.py), report the versions of the images in components/versions.py.
Bumping an image's tag there makes the next `tests/run` build and test that version."""

from __future__ import annotations

import re
import subprocess

import pytest

from components.versions import ALERTMANAGER_IMAGE, NODE_EXPORTER_IMAGE, PROMETHEUS_IMAGE
from support.go_tools import TOOLS, image_tag, prometheus_module_version
from support.tools import tool

SHIPPED = {"prometheus": PROMETHEUS_IMAGE, "promtool": PROMETHEUS_IMAGE, "alertmanager": ALERTMANAGER_IMAGE,
           "amtool": ALERTMANAGER_IMAGE, "node_exporter": NODE_EXPORTER_IMAGE}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_program_the_tests_run_is_the_version_the_stacks_ship(name):
    reported = subprocess.run([tool(name), "--version"], capture_output=True, text=True, timeout=30)
    assert reported.returncode == 0, reported.stderr
    (version,) = re.findall(r"version (\S+)", (reported.stdout + reported.stderr).splitlines()[0])
    assert version == image_tag(SHIPPED[name])


def test_prometheus_3_is_the_modules_v0_3xx_version():
    # github.com/prometheus/prometheus tags each 3.x release a.b.c as v0.(a*100+b).c (3.0.0 is v0.300.0).
    assert prometheus_module_version("3.13.2") == "v0.313.2"
    assert prometheus_module_version("3.5.0") == "v0.305.0"
    assert TOOLS["prometheus"].version == prometheus_module_version(image_tag(PROMETHEUS_IMAGE))


def test_the_tests_prometheus_discovers_kubernetes(tmp_path):
    # Debian's Prometheus was built without it; the minikube stack's configuration depends on it.
    config = tmp_path / "prometheus.yml"
    config.write_text("scrape_configs:\n- job_name: ray\n  kubernetes_sd_configs:\n  - role: pod\n")
    checked = subprocess.run([tool("promtool"), "check", "config", str(config)], capture_output=True, text=True,
                             timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_collector_the_tests_run_is_the_release_the_stacks_ship():
    from components.versions import OTEL_COLLECTOR_IMAGE
    from support.go_tools import COLLECTOR

    reported = subprocess.run([tool(COLLECTOR.name), "--version"], capture_output=True, text=True, timeout=30)
    assert reported.returncode == 0, reported.stderr
    assert reported.stdout.split()[-1] == image_tag(OTEL_COLLECTOR_IMAGE), reported.stdout


def test_the_collector_releases_core_stable_modules_at_the_version_the_build_names():
    # ocb's internal/builder/config.go: DefaultStableOtelColVersion is the 1.x release of the core modules
    # (confmap providers) that goes with its own 0.x release; a collector bump must move both.
    from support.go_tools import COLLECTOR, module_dir

    source = (module_dir("ocb") / "internal" / "builder" / "config.go").read_text()
    (stable,) = re.findall(r'DefaultStableOtelColVersion\s*=\s*"([^"]+)"', source)
    (beta,) = re.findall(r'DefaultBetaOtelColVersion\s*=\s*"([^"]+)"', source)
    assert (beta, stable) == (COLLECTOR.version, COLLECTOR.stable_version)
