"""`python -m doctor`: how it reads a stack, and what it says when it cannot."""

from __future__ import annotations

import subprocess
import sys

from components.builders.sizing import NODE_EXPORTER_SERIES, RECORDED_SERIES, RECORDED_SERIES_PER_NODE
from doctor.__main__ import expectations, render
from doctor.checks import GRAFANA_CHECKS, PROMETHEUS_CHECKS, RAY_CHECKS, Result
from support.paths import PROJECT_ROOT


def doctor(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "doctor", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=60, env=env)


def test_without_the_pulumi_cli_it_says_so_and_exits_2():
    result = doctor("--stack", "minikube", env={"PATH": "/nonexistent"})
    assert result.returncode == 2 and result.stderr.startswith("doctor: the Pulumi CLI is not on PATH")
    assert "Traceback" not in result.stderr


def test_nothing_given_runs_nothing_and_fails_nothing():
    result = doctor()
    every = len(RAY_CHECKS) + len(PROMETHEUS_CHECKS) + len(GRAFANA_CHECKS)
    assert every >= 20
    assert result.returncode == 0 and f"checks: 0 ok, 0 failing, {every} not run" in result.stdout


def test_render_marks_each_outcome_and_gives_the_fix():
    text = render({"Prometheus": [Result("a", True, "fine"), Result("b", False, "broken", "do this"),
                                  Result("c", None, "no URL")]})
    assert "  ✔ a: fine" in text and "  × b: broken" in text and "      fix: do this" in text
    assert "  - c: no URL (not run)" in text and text.endswith("checks: 1 ok, 1 failing, 1 not run")


def test_both_stacks_export_what_the_doctor_reads(minikube, aws):
    for stack, run in (("minikube", minikube), ("aws", aws)):
        output = run.doctor
        expect = expectations(output, stack)
        assert expect.datasource_name == "Prometheus" and expect.ray_nodes == 10
        # The aws head's Prometheus also scrapes node_exporter on each of the 10 planned nodes.
        ray = 6_000 + RECORDED_SERIES + 10 * RECORDED_SERIES_PER_NODE  # the nodes' series and the recorded sums
        assert expect.planned_series == (ray if stack == "minikube" else ray + 10 * NODE_EXPORTER_SERIES)
        assert expect.restart_command
        assert expect.dashboard_uids and "rayDefaultDashboard" in expect.dashboard_uids
    services = minikube.doctor["services"]
    assert services["rayDashboard"] == {"namespace": "ray-system", "service": "ray-training-cluster-head-svc",
                                        "port": 8265}
    assert services["prometheus"] == {"namespace": "monitoring", "service": "prometheus", "port": 9090}
    assert minikube.doctor["iframeHost"] == "http://localhost:3000"
    assert aws.doctor["urls"]["grafana"] == "http://localhost:3000"
    assert aws.doctor["nodeExporter"] is True and minikube.doctor["nodeExporter"] is False
    assert expectations(aws.doctor, "aws").launched_nodes == 2, "the head and workerCount 1"
    assert expectations(minikube.doctor, "minikube").launched_nodes is None, "KubeRay launches pods"


def test_the_doctor_expects_the_dashboards_of_the_ray_version_the_stack_serves():
    """Ray 2.52-2.54 generate no Data LLM or SGLang dashboard (their own dashboard factories, stored in
    dashboards/ray-versions): a stack serving 2.52 must not be told those uids are missing."""
    from support.stacks import run_stack

    older = run_stack("minikube", rayVersion="2.52.1")
    assert older.error is None, older.error
    uids = expectations(older.doctor, "minikube").dashboard_uids
    assert "rayDefaultDashboard" in uids and "rayDataLlmDashboard" not in uids
    assert "rayServeLlmSglangDashboard" not in uids
    newest = run_stack("minikube")
    assert "rayDataLlmDashboard" in expectations(newest.doctor, "minikube").dashboard_uids


def test_a_failed_forward_names_the_likely_cause_from_kubectls_own_words():
    from doctor.access import ForwardFailed

    # kubectl's message for a pod that is not Running (k8s.io/kubectl pkg/cmd/portforward/portforward.go).
    pending = ForwardFailed("ray-system", "ray-training-cluster-head-svc",
                            "error: unable to forward port because pod is not running. Current status=Pending")
    assert "Current status=Pending" in pending.detail and "not running yet" in pending.fix
    missing = ForwardFailed("monitoring", "grafana", 'Error from server (NotFound): services "grafana" not found')
    assert "kubectl get svc -n monitoring" in missing.fix
    silent = ForwardFailed("monitoring", "grafana", "")
    assert "reported no port" in silent.detail
