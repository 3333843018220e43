"""The doctor against the stack deployed from zero, with the real Pulumi CLI reading the stack's outputs and the
real kubectl port-forwarding: kwok runs no kubelet, so every forward fails as a real one does when a pod cannot
be reached. The doctor says what kubectl said and what to do, reports the checks behind each forward as not run,
exits 1, and with --json prints one JSON document whatever happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support.go_tools import build
from support.paths import PROJECT_ROOT


@pytest.fixture(scope="module")
def doctor(deployed):
    env = deployed.project.env()
    env["PATH"] = os.pathsep.join([str(build("kubectl").parent), env["PATH"]])
    env["PYTHONPATH"] = str(PROJECT_ROOT)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "doctor", "--stack", "minikube", *args],
                              cwd=deployed.project.workdir, env=env, capture_output=True, text=True, timeout=300)
    return run


def test_a_failed_port_forward_says_what_kubectl_said_and_runs_what_it_can(doctor):
    result = doctor()
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    failed = [line for line in lines if line.startswith("  × port-forward to ")]
    assert {line.split()[3].rstrip(":") for line in failed} == {"prometheus", "grafana",
                                                                "ray-training-cluster-head-svc"}, lines
    assert all("did not start: error" in line for line in failed), failed  # kubectl's own line, not a guess
    assert any(line.startswith("      fix: ") and "kubectl get pods -n" in line for line in lines)
    assert "its port-forward did not start" in result.stdout and "(not run)" in result.stdout
    assert "Traceback" not in result.stderr


def test_json_stays_one_document(doctor):
    result = doctor("--json")
    assert result.returncode == 1
    results = json.loads(result.stdout)
    assert {r["check"] for r in results if r["ok"] is False} >= {"port-forward to prometheus"}
    assert all(set(r) == {"check", "ok", "detail", "fix"} for r in results)
    unknown = doctor("--json", "--context", "no-such-context")
    assert unknown.returncode in (1, 2) and isinstance(json.loads(unknown.stdout), list)
