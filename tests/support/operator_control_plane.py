"""The real Prometheus Operator (v0.93.0, built from its module) against a control plane: its CRDs, the
operator as a process, and the configuration and rule files it renders for a `Prometheus`. What the
operator_mode and discovery scenarios share."""

from __future__ import annotations

import base64
import gzip
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from support.control_plane import ControlPlane, load_yaml
from support.go_tools import build, module_dir
from support.live import Processes, wait_until
from support.loopback import free_port


def install_crds(plane: ControlPlane) -> None:
    """The operator's CRDs, as its module ships them (example/prometheus-operator-crd), established."""
    for path in sorted((module_dir("prometheus-operator") / "example" / "prometheus-operator-crd").glob("*.yaml")):
        crd = load_yaml(path.read_text())
        plane.create(crd)
        plane.wait_for_crd(crd["metadata"]["name"])


def start_operator(plane: ControlPlane, processes: Processes, log: Path) -> subprocess.Popen:
    # The operator has no --kubeconfig flag; it reads KUBECONFIG (pkg/k8s/k8s.go, NewClusterConfig).
    return processes.start("prometheus-operator", [
        str(build("prometheus-operator")), f"--web.listen-address=127.0.0.1:{free_port()}", "--log-level=info",
    ], log, env={**os.environ, "KUBECONFIG": str(plane.kubeconfig)})


def rendered(plane: ControlPlane, name: str, namespace: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The configuration (its Secret's prometheus.yaml.gz, once it holds a PodMonitor's jobs) and the rule
    files (ConfigMap prometheus-NAME-rulefiles-0) the operator rendered for `Prometheus` NAME; None before."""
    secret = plane.find("v1", "Secret", f"prometheus-{name}", namespace)
    rules = plane.find("v1", "ConfigMap", f"prometheus-{name}-rulefiles-0", namespace)
    data = secret.data.to_dict() if secret is not None and secret.data else {}
    if "prometheus.yaml.gz" not in data or rules is None or not rules.data:
        return None
    config = yaml.safe_load(gzip.decompress(base64.b64decode(data["prometheus.yaml.gz"])))
    if not any(job["job_name"].startswith("podMonitor/") for job in config.get("scrape_configs") or []):
        return None
    return config, rules.data.to_dict()


def wait_for_rendered(plane: ControlPlane, name: str, namespace: str,
                      log: Path) -> tuple[dict[str, Any], dict[str, str]]:
    wait_until(lambda: rendered(plane, name, namespace), 180, f"the operator's files (see {log})", interval=1)
    files = rendered(plane, name, namespace)
    assert files is not None
    return files
