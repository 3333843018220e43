"""The doctor against a real Ray cluster and a real Prometheus running the aws stack's configuration:
a healthy run passes every check, then one fault at a time is injected and diagnosed by the right
check, with its cause and fix, and no other check fails. Grafana's side is served by its documented
HTTP API responses (tests/grafana_api.py: no Grafana server can run here). Ray's logs reach the store as
on the head: the real collector runs the stack's collector.yaml on the cluster's session directory and sends
to VictoriaLogs (Loki's stand-in), which the Grafana stand-in's logs datasource reads."""

from __future__ import annotations

import functools
import json
import socket
import urllib.request
from contextlib import contextmanager
from dataclasses import replace

import pytest
import yaml

from components.builders.alert_rules import FILE_NAME
from components.builders.logs.collector_config import NODE_TYPE_ENV
from components.builders.logs.compose_services import COLLECTOR_CONFIG_FILE, COLLECTOR_STATE_MOUNT
from doctor.__main__ import expectations, render, run_checks
from doctor.http import Http
from support.cloud_mocks import GENERATED_PASSWORD
from support.grafana_api import deployed_grafana
from support.live import LOOPBACK, Processes, Prometheus, on_loopback, wait_until
from support.log_pipeline import Collector, VictoriaLogs
from support.loopback import free_port
from support.pulumi_internals import reveal
from support.stacks import run_stack

EXTRA_PROMETHEUS_PORT = 9092  # a second Prometheus for the faults that need another configuration


# What names the node in its logs: on EC2 the collector's HOSTNAME, which Docker sets on the host's network to
# the host's name (moby: os.Hostname()), as node_exporter's uname nodename on the same machine is.
NODE_NAME = socket.gethostname()


@pytest.fixture(scope="module")
def doctor_setup(live, tmp_path_factory):
    stack = run_stack("aws")
    assert stack.error is None, stack.error
    workdir = tmp_path_factory.mktemp("doctor-logs")
    processes = Processes()
    store = VictoriaLogs(processes, workdir / "store", free_port())
    config = stack.config()[COLLECTOR_CONFIG_FILE].replace("http://127.0.0.1:3100/otlp", store.otlp_url)
    collector = Collector(processes, workdir / "collector", config,
                          {"/tmp/ray": str(live.ray.temp_dir), COLLECTOR_STATE_MOUNT: str(workdir / "state")},
                          {"HOSTNAME": NODE_NAME, NODE_TYPE_ENV: "head"}, telemetry_port=free_port())
    # Where the head's RAY_GRAFANA_HOST points (http://127.0.0.1:3000 on the aws stack).
    grafana = deployed_grafana(stack, port=3000).start()
    grafana.logs_store = store.url
    try:
        store.start()
        collector.start()
        wait_until(lambda: store.query(f'ray_node:="{NODE_NAME}"'), 60, "the cluster's first log lines in the store",
                   interval=1)
        yield stack, grafana, expectations(stack.doctor, "aws")
    finally:
        grafana.stop()
        processes.stop_all()


@functools.cache
def ray_token() -> str:
    """The token the live cluster runs with: the aws stack's rayAuthToken output."""
    return reveal(run_stack("aws").outputs["rayAuthToken"])


def diagnose(urls: dict, expect, token: str | None = None) -> dict:
    sections = run_checks(Http(timeout=5), urls, GENERATED_PASSWORD, expect, token or ray_token())
    print(render(sections))  # shown when a test fails
    return {r.check: r for results in sections.values() for r in results}


def failures(results: dict) -> list[str]:
    return sorted(name for name, r in results.items() if r.ok is False)


def urls(live, grafana, prometheus_url: str | None = None) -> dict:
    return {"prometheus": prometheus_url or live.prometheus.url, "rayDashboard": f"http://{LOOPBACK}:8265",
            "grafana": grafana.url}


@contextmanager
def extra_prometheus(live, stack, name: str, change, ports: tuple[int, ...] = (8080, 8081, 44217, 44227)):
    """A second Prometheus with the deployed configuration, changed by `change(config, workdir)`, once
    it has scraped the Ray endpoints on `ports`; stopped on leaving."""
    files = stack.config()
    workdir = live.workdir / f"doctor-{name}"
    workdir.mkdir()
    rules = workdir / FILE_NAME
    rules.write_text(files[f"/opt/ray-monitoring/prometheus/{FILE_NAME}"])
    deployed = yaml.safe_load(files["/opt/ray-monitoring/prometheus/prometheus.yml"])
    config = on_loopback(deployed, live.ray.sd_file, rules)
    # Its own address for its own job; the rest as deployed.
    for job in config["scrape_configs"]:
        if job["job_name"] == "prometheus":
            job["static_configs"] = [{"targets": [f"localhost:{EXTRA_PROMETHEUS_PORT}"]}]
    change(config, workdir)
    processes = Processes()
    try:
        prometheus = Prometheus(processes, workdir / "prometheus", config, port=EXTRA_PROMETHEUS_PORT)
        prometheus.start()
        scraped(prometheus, ports)
        yield prometheus
    finally:
        processes.stop_all()


def scraped(prometheus: Prometheus, ports: tuple[int, ...] = (8080, 8081, 44217, 44227)) -> None:
    """Waits until the Ray endpoints on `ports` have all been scraped successfully."""
    wait_until(lambda: all(prometheus.target_up("ray", f"{LOOPBACK}:{port}") for port in ports), 30,
               f"Ray endpoints {ports} scraped by {prometheus.url}")


def test_a_healthy_stack_passes_every_check(live, doctor_setup):
    stack, grafana, expect = doctor_setup
    results = diagnose(urls(live, grafana), expect)
    assert failures(results) == []
    # Every check runs and passes but remote write's: this stack writes to no store (test_remote_write_live).
    assert {k: r.detail for k, r in results.items() if r.ok is not True} == {
        "remote write keeps up": "no remoteWrite configured"}
    assert "2 Ray node(s) alive" in results["Ray Dashboard reachable"].detail
    assert results["logs arrive from every Ray node"].detail.startswith("lines from all 1 node(s) Prometheus sees")
    assert results["every launched node joined Ray"].detail == "2 node(s) alive, 2 launched", "head + workerCount 1"


def test_a_launched_worker_that_never_joined_is_counted(live, doctor_setup):
    """EC2 launched three nodes (workerCount 2); one never joined Ray, as a worker without a way out does."""
    stack, grafana, expect = doctor_setup
    results = diagnose(urls(live, grafana), replace(expect, launched_nodes=3))
    check = results["every launched node joined Ray"]
    assert failures(results) == ["every launched node joined Ray"]
    assert "Ray reports 2 node(s) alive; the stack launched 3" in check.detail
    assert "describe-scaling-activities" in check.fix and "workers-group" in check.fix


def test_a_changed_stack_environment_names_the_old_head(live, doctor_setup):
    """The stack now sets another iframe host and datasource; the running head still has the old ones."""
    stack, grafana, expect = doctor_setup
    # Another loopback address, where nothing listens: the doctor sends nothing off this machine.
    changed = replace(expect, iframe_host="http://127.0.0.2:3000", datasource_name="Thanos")
    results = diagnose(urls(live, grafana), changed)
    check = "Ray head runs the stack's environment"
    # Grafana has no datasource named Thanos, and nothing answers at the new browser address.
    assert failures(results) == [check, "datasource exists and connects", "the browser's Grafana address answers"]
    assert "RAY_GRAFANA_IFRAME_HOST is 'http://localhost:3000'" in results[check].detail
    assert "RAY_PROMETHEUS_NAME is 'Prometheus', the stack set 'Thanos'" in results[check].detail
    assert "docker compose" in results[check].fix and "force-recreate ray-head" in results[check].fix


def test_a_worker_missing_from_discovery_is_named(live, doctor_setup):
    """Prometheus reads a discovery file as Ray's 5-minute-refresh configuration leaves it: written
    before the worker joined, so the worker's endpoint is not discovered."""
    stack, grafana, expect = doctor_setup
    groups = json.loads(live.ray.sd_file.read_text())
    worker = f"{groups[0]['targets'][0].split(':')[0]}:8081"
    stale = [{**g, "targets": [t for t in g["targets"] if t != worker]} for g in groups]

    def snapshot(config, workdir):
        (workdir / "stale.json").write_text(json.dumps(stale))
        for job in config["scrape_configs"]:
            for sd in job.get("file_sd_configs", []):
                sd["files"] = [str(workdir / "stale.json")]

    with extra_prometheus(live, stack, "stale", snapshot, ports=(8080, 44217, 44227)) as prometheus:
        results = diagnose(urls(live, grafana, prometheus.url), expect)
    check = "every live Ray node scraped"
    assert failures(results) == [check]
    assert f"no current metrics from {worker}: not discovered" in results[check].detail
    assert "discover" in results[check].fix


def test_a_node_whose_logs_never_arrived_is_named(live, doctor_setup, tmp_path):
    """The store answers but holds nothing from this node, as when its collector cannot send."""
    stack, grafana, expect = doctor_setup
    processes = Processes()
    empty = VictoriaLogs(processes, tmp_path / "empty", free_port())
    sending = grafana.logs_store
    try:
        empty.start()
        grafana.logs_store = empty.url
        results = diagnose(urls(live, grafana), expect)
    finally:
        grafana.logs_store = sending
        processes.stop_all()
    check = results["logs arrive from every Ray node"]
    assert failures(results) == ["logs arrive from every Ray node"]
    assert f"no log line in the last 15 min from {NODE_NAME}" in check.detail
    assert "docker compose logs log-collector" in check.fix


def test_a_log_store_that_does_not_answer_fails_the_logs_datasource(live, doctor_setup):
    stack, grafana, expect = doctor_setup
    sending, grafana.logs_store = grafana.logs_store, f"http://{LOOPBACK}:{free_port()}"  # nothing listens there
    try:
        results = diagnose(urls(live, grafana), expect)
    finally:
        grafana.logs_store = sending
    assert failures(results) == ["logs datasource connects"]
    assert "cannot query the store" in results["logs datasource connects"].detail
    assert results["logs arrive from every Ray node"].ok is None, "the gate failed: the rest is not run"


def test_a_missing_rule_file_is_diagnosed(live, doctor_setup):
    stack, grafana, expect = doctor_setup

    def without_rules(config, workdir):
        config["rule_files"] = [str(workdir / "missing" / FILE_NAME)]

    with extra_prometheus(live, stack, "norules", without_rules) as prometheus:
        results = diagnose(urls(live, grafana, prometheus.url), expect)
    check = "Ray alert rules loaded"
    assert failures(results) == [check]
    assert "rule group(s) ray, ray-monitoring-overview, ray-dashboards not loaded" in results[check].detail
    assert "ray-alerts.yml" in results[check].fix


def test_a_rule_group_not_yet_evaluated_is_named(live, doctor_setup):
    """Until a recording group first runs, the panels reading it are empty: the doctor says so, and why. A day
    between evaluations puts the groups' first run hours away but for a chance of about 1 in 5,000 (Prometheus
    starts each group at an offset within its interval, from a hash of the group)."""
    stack, grafana, expect = doctor_setup

    def daily(config, workdir):
        config["global"]["evaluation_interval"] = "1d"

    with extra_prometheus(live, stack, "daily", daily) as prometheus:
        results = diagnose(urls(live, grafana, prometheus.url), expect)
    check = results["Ray alert rules loaded"]
    assert check.ok is False and "not evaluated yet" in check.detail
    assert "ray-dashboards" in check.detail


def test_prometheus_stopped_then_moved_away_from_the_heads_host(live, doctor_setup):
    """Stopped: Prometheus fails and the head cannot reach it. Then a Prometheus answers elsewhere
    than the head's RAY_PROMETHEUS_HOST: only the head's check fails, and says the host is wrong."""
    stack, grafana, expect = doctor_setup
    live.prometheus.stop()
    try:
        results = diagnose(urls(live, grafana), expect)
        assert failures(results) == ["Prometheus ready", "Ray head reaches Prometheus"]
        assert "Prometheus does not answer" in results["Ray head reaches Prometheus"].detail
        assert all(r.ok is None for name, r in results.items()
                   if name != "Prometheus ready" and name in _prometheus_checks()), "the rest is not run"

        with extra_prometheus(live, stack, "moved", lambda config, workdir: None) as moved:
            results = diagnose(urls(live, grafana, moved.url), expect)
        check = "Ray head reaches Prometheus"
        assert failures(results) == [check]
        assert "RAY_PROMETHEUS_HOST is wrong" in results[check].detail
        assert "force-recreate ray-head" in results[check].fix
    finally:
        live.prometheus.start()
        scraped(live.prometheus)


def _prometheus_checks() -> list[str]:
    from doctor.checks import PROMETHEUS_CHECKS

    return PROMETHEUS_CHECKS


def test_the_cli_prints_one_line_per_check_and_fails_on_a_fault(live, doctor_setup, tmp_path):
    stack, grafana, expect = doctor_setup
    import subprocess
    import sys

    from support.paths import PROJECT_ROOT

    password = tmp_path / "password"
    password.write_text(GENERATED_PASSWORD)
    token = tmp_path / "ray-token"
    token.write_text(live.token)
    base = [sys.executable, "-m", "doctor", "--prometheus-url", live.prometheus.url,
            "--ray-dashboard-url", f"http://{LOOPBACK}:8265", "--grafana-password-file", str(password),
            "--ray-token-file", str(token),
            "--expect-datasource", "Prometheus", "--expect-iframe-host", expect.iframe_host]
    healthy = subprocess.run(base + ["--grafana-url", grafana.url], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=120)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "✔ Prometheus ready" in healthy.stdout and "×" not in healthy.stdout
    as_json = subprocess.run(base + ["--json"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    checks = json.loads(as_json.stdout)
    assert as_json.returncode == 0, "Grafana not given: its checks are not run, which fails nothing"
    assert {c["check"]: c["ok"] for c in checks}["Grafana healthy"] is None
    assert set(checks[0]) == {"check", "ok", "detail", "fix"}
    wrong = subprocess.run(base + ["--grafana-url", grafana.url, "--expect-datasource", "Thanos"], cwd=PROJECT_ROOT,
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 1 and "× Ray head runs the stack's environment" in wrong.stdout
    assert "fix:" in wrong.stdout


def test_grafana_stub_is_where_the_head_looks(doctor_setup):
    stack, grafana, expect = doctor_setup
    with urllib.request.urlopen(f"{grafana.url}/api/health", timeout=5) as reply:
        assert json.loads(reply.read())["database"] == "ok"


def test_without_ray_s_token_the_doctor_says_what_it_needs(live, doctor_setup):
    stack, grafana, expect = doctor_setup
    results = diagnose(urls(live, grafana), expect, token="not-the-token")
    check = results["Ray Dashboard reachable"]
    assert check.ok is False and "refuses the token given" in check.detail and "rayAuthToken" in check.detail
