"""Scenario: the users' CI job `preview-minikube` (.github/workflows/pull-request.yml) as it runs its commands,
on a cluster shaped like the one it gets: helm/kind-action's single kind node (kind's labels, not minikube's),
nothing installed. The real engine and provider preview the shipped minikube stack after the job's own
`pulumi config` lines. Two differences, both of this machine: the KubeRay chart comes from the tier's Helm
repository on 127.0.0.1 instead of KubeRay's on the internet, and the generated secrets are given (as every
project of this tier: pulumi-random cannot be built from its module here)."""

from __future__ import annotations

import re

import pytest
import yaml

from support.control_plane import ControlPlane
from support.deployments import GIVEN_SECRETS
from support.live import Processes
from support.paths import PROJECT_ROOT
from support.pulumi_engine import Project

# The node kind registers for cluster_name ray-monitoring (kind's kubeadm config: the control-plane role and
# exclude-from-external-load-balancers labels, and the kubelet's own).
KIND_NAME = "ray-monitoring-control-plane"
KIND_NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": KIND_NAME, "labels": {
    "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "kubernetes.io/hostname": KIND_NAME,
    "node-role.kubernetes.io/control-plane": "", "node.kubernetes.io/exclude-from-external-load-balancers": ""}}}


def job_script(job: str, step: str) -> list[str]:
    workflow = yaml.safe_load((PROJECT_ROOT / ".github/workflows/pull-request.yml").read_text())
    (run,) = [s["run"] for s in workflow["jobs"][job]["steps"] if s.get("name") == step]
    return [line.strip() for line in run.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def kind_cluster(tmp_path_factory):
    processes = Processes()
    try:
        plane = ControlPlane(tmp_path_factory.mktemp("kind"), processes).start()
        plane.create(KIND_NODE)
        yield plane
    finally:
        processes.stop_all()


def test_the_preview_job_previews_the_minikube_stack_on_kind(kind_cluster, cluster, tmp_path):
    script = job_script("preview-minikube", "pulumi preview, on a bare cluster")
    assert "pulumi stack init minikube" in script and script[-1] == "pulumi preview --stack minikube"
    project = Project(tmp_path / "users-ci", "minikube", kind_cluster.kubeconfig,
                      config={"kuberayChartRepository": cluster.charts.url}, secret_config=dict(GIVEN_SECRETS))
    stack_file = project.workdir / "stacks" / "Pulumi.minikube.yaml"
    settings = yaml.safe_load(stack_file.read_text())
    for line in script:  # the job's own config changes, as `pulumi config rm` makes them in the stack file
        removed = re.fullmatch(r"pulumi config rm (\w+) --stack minikube", line)
        if removed:
            settings["config"].pop(f"ray-monitoring:{removed.group(1)}")
    stack_file.write_text(yaml.safe_dump(settings))
    outcome = project.run("preview")
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    assert outcome.changes.get("create", 0) > 20
