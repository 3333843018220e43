"""The doctor's logs checks (doctor/logs.py): which stacks ask for them, and what they say when Grafana lacks the
logs datasource or the admin password. That lines from every node arrive, and a node whose lines do not is
named, is shown on the live tier against the real collector and store (tests/live/test_doctor_live.py); that
Prometheus names each Ray pod as its collector does, on the control-plane tier (tests/control_plane/discovery)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

from doctor.__main__ import expectations
from doctor.checks import Findings
from doctor.http import Http
from doctor.logs import LOGS_CHECKS, logs
from support.cloud_mocks import GENERATED_PASSWORD
from support.grafana_api import deployed_grafana
from support.paths import PROJECT_ROOT
from support.stacks import run_stack


def doctor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "doctor", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=60)


def test_the_stacks_that_ship_logs_ask_the_doctor_to_check_them(minikube, aws, minikube_patch):
    assert expectations(minikube.doctor, "minikube").logs == "kubernetes"
    assert expectations(aws.doctor, "aws").logs == "aws"
    assert expectations(minikube_patch.doctor, "minikube").logs is None, "patched clusters ship no logs"
    assert deployed_grafana(minikube).logs_uid == "ray-logs" and deployed_grafana(aws).logs_uid == "ray-logs"


def test_a_grafana_without_the_logs_datasource_is_told_to_pulumi_up():
    """Grafana as a stack with `logs: false` provisions it, checked as if logs were expected."""
    without = run_stack("aws", logs="false")
    assert without.error is None, without.error
    assert expectations(without.doctor, "aws").logs is None
    api = deployed_grafana(without).start()
    try:
        results = logs(Http(timeout=5), api.url, GENERATED_PASSWORD, replace(expectations(without.doctor, "aws"),
                                                                             logs="aws"), Findings(node_names=["n"]))
    finally:
        api.stop()
    gate, every_node = results
    assert (gate.check, gate.ok) == ("logs datasource connects", False)
    assert "no datasource with uid 'ray-logs'" in gate.detail and "pulumi up" in gate.fix
    assert every_node.ok is None, "the gate failed: the rest is not run"


def test_without_the_admin_password_the_logs_checks_say_what_they_need(aws):
    api = deployed_grafana(aws).start()
    try:
        results = logs(Http(timeout=5), api.url, None, expectations(aws.doctor, "aws"), Findings(node_names=["n"]))
    finally:
        api.stop()
    assert [(r.check, r.ok) for r in results] == [(name, None) for name in LOGS_CHECKS]
    assert all("--grafana-password-file" in r.detail for r in results)


def test_the_cli_runs_the_logs_checks_only_when_asked():
    asked = doctor("--expect-logs", "aws")
    assert asked.returncode == 0 and "Logs\n" in asked.stdout
    assert all(f"- {name}: no Grafana URL given (not run)" in asked.stdout for name in LOGS_CHECKS)
    assert "Logs\n" not in doctor().stdout
    wrong = doctor("--expect-logs", "gke")
    assert wrong.returncode == 2 and "invalid choice: 'gke'" in wrong.stderr
