"""The minikube stack deployed by the real Pulumi engine on a real control plane with nodes (kwok), the
KubeRay chart from a Helm repository on 127.0.0.1 and KubeRay's real operator: what the control-plane
tier's scenarios (tests/control_plane/) and its benchmark (tests/benchmarks/control_plane.py) share."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.control_plane import ControlPlane, minikube_node, start_kuberay_operator
from support.helm_repository import HelmRepository
from support.live import Processes, wait_until
from support.pulumi_engine import Outcome, Project
from support.upstream import upstream_file, upstream_files

KUBERAY_CHART = "charts/kuberay-operator-1.7.0"
# The CRDs the chart installs that the operator needs before it starts (it watches all three).
KUBERAY_OPERATOR_CRDS = ("rayclusters.ray.io", "rayjobs.ray.io", "rayservices.ray.io")
# pulumi-random's provider cannot be built here (the module proxy refuses it): the tier sets the three
# secrets the stack would generate, as a user may (grafanaAdminPassword, grafanaSecretKey, rayAuthToken).
GIVEN_SECRETS = {"grafanaAdminPassword": "control-plane-admin-password",
                 "grafanaSecretKey": "control-plane-grafana-secret-key-0123456789",
                 "rayAuthToken": "control-plane-ray-auth-token-0123456789abcdef"}


@dataclass
class Cluster:
    plane: ControlPlane
    charts: HelmRepository
    processes: Processes
    workdir: Path
    operator: subprocess.Popen | None = None

    def project(self, name: str, base: str | None = "minikube", **config: Any) -> Project:
        """A stack of this project aimed at this cluster (`base`: the stack file it starts from)."""
        return Project(self.workdir / name, name, self.plane.kubeconfig, base=base,
                       config={"kuberayChartRepository": self.charts.url, **config},
                       secret_config=dict(GIVEN_SECRETS))

    def start_operator(self) -> None:
        if self.operator is None:
            self.operator = start_kuberay_operator(self.plane, self.processes)


def start_cluster(workdir: Path, processes: Processes, node: dict[str, Any] | None = None) -> Cluster:
    """API server, controllers, scheduler and kwok with one node (minikube's unless given); the KubeRay chart
    served."""
    plane = ControlPlane(workdir / "plane", processes).start().start_nodes([node or minikube_node()])
    # The chart's files (Chart.yaml, values.yaml, crds/, templates/), each checked against its checksum.
    prefix = f"{KUBERAY_CHART}/"
    files = {path.removeprefix(prefix): upstream_file(path) for path in upstream_files(prefix)}
    return Cluster(plane, HelmRepository(workdir / "charts", "kuberay-operator", files), processes, workdir)


def up_with_kuberay(cluster: Cluster, project: Project, timeout: float = 900) -> Outcome:
    """`pulumi up`; once the chart has installed KubeRay's CRDs, KubeRay's operator starts as a process (the
    chart's operator pod runs no container under kwok), so the RayCluster the stack creates gets its pods."""
    running = project.start("up")
    if cluster.operator is None:
        wait_until(lambda: running.poll() is not None or all(map(cluster.plane.crd_established,
                                                                 KUBERAY_OPERATOR_CRDS)),
                   timeout, "the KubeRay chart's CRDs (or the end of pulumi up)", interval=1)
        if running.poll() is None:
            cluster.start_operator()
    return project.finish(running, timeout)
