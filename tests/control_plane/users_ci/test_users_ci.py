"""Scenario: the users' CI jobs that deploy or preview (.github/workflows/pull-request.yml) as they run their
commands, on a cluster shaped like the one they get: helm/kind-action's single kind node (kind's labels, not
minikube's; a GitHub runner's 4 CPUs and 16 GB), nothing installed. The real engine and provider preview the
shipped minikube stack after `preview-minikube`'s own `pulumi config` lines, and `zero-to-charts` deploys the
kind stack from zero as far as kwok allows: every pod the stack makes is scheduled on kind's node and runs
(no container: the job's check.sh and the doctor need real HTTP), then `pulumi destroy` removes it. Two
differences, both of this machine: the KubeRay chart comes from the tier's Helm repository on 127.0.0.1
instead of KubeRay's on the internet, and the generated secrets are given (as every project of this tier:
pulumi-random cannot be built from its module here)."""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from support.cluster_state import available, wait_for_pods
from support.deployments import GIVEN_SECRETS, start_cluster, up_with_kuberay
from support.live import Processes, wait_until
from support.paths import PROJECT_ROOT
from support.pulumi_engine import Project

# The node kind registers for cluster_name ray-monitoring (kind's kubeadm config: the control-plane role and
# exclude-from-external-load-balancers labels, and the kubelet's own), with a GitHub runner's size.
KIND_NAME = "ray-monitoring-control-plane"
KIND_NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": KIND_NAME, "labels": {
    "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "kubernetes.io/hostname": KIND_NAME,
    "node-role.kubernetes.io/control-plane": "", "node.kubernetes.io/exclude-from-external-load-balancers": ""}},
    "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "73Gi"},
               "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "73Gi"}}}


def job_script(job: str, step: str) -> list[str]:
    workflow = yaml.safe_load((PROJECT_ROOT / ".github/workflows/pull-request.yml").read_text())
    (run,) = [s["run"] for s in workflow["jobs"][job]["steps"] if s.get("name") == step]
    return [line.strip() for line in run.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def kind(tmp_path_factory):
    processes = Processes()
    try:
        cluster = start_cluster(tmp_path_factory.mktemp("kind"), processes, KIND_NODE)
        yield cluster
        cluster.charts.stop()
    finally:
        processes.stop_all()


def test_the_preview_job_previews_the_minikube_stack_on_kind(kind):
    script = job_script("preview-minikube", "pulumi preview, on a bare cluster")
    assert "pulumi stack init minikube" in script and script[-1] == "pulumi preview --stack minikube"
    # The job's own stack name (its preset follows it), in a directory of its own beside the kind stack's.
    project = Project(kind.workdir / "preview", "minikube", kind.plane.kubeconfig,
                      config={"kuberayChartRepository": kind.charts.url}, secret_config=dict(GIVEN_SECRETS))
    # The job's own `pulumi stack init` and `pulumi config` lines, by the real CLI (the backend is the
    # project's, as the job's `pulumi login` sets its own); the preview by the engine as every scenario runs it.
    commands = [shlex.split(line) for line in script if re.match(r"pulumi (stack init|config) ", line)]
    assert commands[0][:3] == ["pulumi", "stack", "init"] and len(commands) > 1
    for command in commands:
        project.cli(*command[1:])
    outcome = project.run("preview")
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    assert outcome.changes.get("create", 0) > 20


def test_the_zero_to_charts_job_deploys_the_kind_stack_on_kind(kind):
    script = job_script("zero-to-charts", "pulumi up, from zero")
    assert "pulumi stack init kind" in script and script[-1] == "pulumi up --yes --stack kind"
    project = kind.project("kind", base="kind")
    outcome = up_with_kuberay(kind, project)
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    plane = kind.plane
    for node_type in ("head", "worker"):
        (pod,) = wait_for_pods(plane, "ray-system", f"ray.io/cluster=ray-training-cluster,ray.io/node-type={node_type}")
        assert pod.spec.nodeName == KIND_NAME
    for deployment in ("prometheus", "grafana"):
        wait_for_pods(plane, "monitoring", f"app.kubernetes.io/name={deployment}")
        assert available(plane, "monitoring", deployment)
    destroyed = project.run("destroy")
    assert destroyed.error == "", f"{destroyed.error}\n{destroyed.log[-4000:]}"
    wait_until(lambda: not plane.list("v1", "Pod", "ray-system"), 120, "no Ray pod left after destroy", interval=1)
