"""Scenario: operator mode for real, on the discovery cluster. The real Prometheus Operator renders a
configuration and rule file from the PodMonitor and PrometheusRule the minikube stack registers beside a
kube-prometheus-stack; Prometheus (the version the stack ships, which the Prometheus object names) runs them
in-cluster as kube-prometheus-stack's Prometheus account and finds the same Ray targets as the stack's own
Prometheus, under the job names the rules and the doctor read, and loads and evaluates the rules."""

from __future__ import annotations

import pytest
import yaml

from components.builders.ray_dashboard_rules import GROUP as RAY_DASHBOARD_RULES
from support.control_plane import NAMESPACE
from support.go_tools import PROMETHEUS_RELEASE
from support.in_cluster import in_cluster_prometheus
from support.live import http_json, wait_until
from support.operator_control_plane import install_crds, start_operator, wait_for_rendered
from support.stacks import OPERATOR_MODE, run_stack

MONITORING = "monitoring"
NAME = "kube-prometheus-stack"
ACCOUNT = "kube-prometheus-stack-prometheus"
# kube-prometheus-stack's Prometheus ClusterRole (charts/kube-prometheus-stack/templates/prometheus/
# clusterrole.yaml): read access to what its discovery lists and watches, cluster-wide.
CLUSTER_ROLE_RULES = [
    {"apiGroups": [""], "resources": ["nodes", "nodes/metrics", "services", "endpoints", "pods"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
    {"nonResourceURLs": ["/metrics", "/metrics/cadvisor"], "verbs": ["get"]},
]
PROMETHEUS = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
              "metadata": {"name": NAME, "namespace": MONITORING},
              "spec": {"version": PROMETHEUS_RELEASE, "serviceAccountName": ACCOUNT,
                       "podMonitorSelector": {"matchLabels": {"release": NAME}}, "podMonitorNamespaceSelector": {},
                       "ruleSelector": {"matchLabels": {"release": NAME}}, "ruleNamespaceSelector": {}}}


def _kube_prometheus_stack(plane) -> None:
    install_crds(plane)
    plane.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": ACCOUNT, "namespace": MONITORING}})
    plane.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": ACCOUNT},
                  "rules": CLUSTER_ROLE_RULES})
    plane.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                  "metadata": {"name": ACCOUNT},
                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ACCOUNT},
                  "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": MONITORING}]})


def _as_the_config_reloader_writes_it(plane, text: str) -> str:
    """The operator's configuration with the `$(VAR)`s its config-reloader expands from its environment (the
    StatefulSet's `config-reloader` container: SHARD; POD_NAME from the pod's name, its first pod's here)."""
    statefulset = plane.read("apps/v1", "StatefulSet", f"prometheus-{NAME}", MONITORING).to_dict()
    (reloader,) = [c for c in statefulset["spec"]["template"]["spec"]["containers"] if c["name"] == "config-reloader"]
    values = {item["name"]: item["value"] for item in reloader.get("env") or [] if item.get("value") is not None}
    for name, value in {**values, "POD_NAME": f"prometheus-{NAME}-0"}.items():
        text = text.replace(f"$({name})", value)
    assert "$(" not in text, [line for line in text.splitlines() if "$(" in line]
    return text


@pytest.fixture(scope="module")
def operator_prometheus(discovery):
    plane = discovery.cluster.plane
    _kube_prometheus_stack(plane)
    stack = run_stack("minikube", **OPERATOR_MODE)
    assert stack.error is None, stack.error
    for name in ("prometheus-operator-pod-monitor", "prometheus-operator-rules"):
        (sent,) = [r.plain for r in stack.resources if r.name == name]
        plane.create(sent)
    plane.create(PROMETHEUS)
    workdir = discovery.workdir / "operator"
    workdir.mkdir()
    start_operator(plane, plane.processes, workdir / "operator.log")
    config, rule_files = wait_for_rendered(plane, NAME, MONITORING, workdir / "operator.log")
    text = _as_the_config_reloader_writes_it(plane, yaml.safe_dump(config))
    files = {"prometheus/config_out/prometheus.env.yaml": text,
             **{f"prometheus/rules/prometheus-{NAME}-rulefiles-0/{name}": body for name, body in rule_files.items()}}
    return in_cluster_prometheus(plane, workdir / "stage", ACCOUNT, MONITORING, files,
                                 "prometheus/config_out/prometheus.env.yaml")


def _targets(prometheus) -> set[tuple[str, str, str]]:
    return {(t["labels"]["job"], t["scrapeUrl"].split("/")[2], t["health"]) for t in prometheus.targets()
            if t["labels"].get("namespace") == NAMESPACE}


def test_the_operators_configuration_finds_the_stacks_targets_under_our_job_names(discovery, operator_prometheus):
    def same() -> bool:
        ours, theirs = _targets(discovery.prometheus), _targets(operator_prometheus)
        return bool(ours) and ours == theirs and {health for _, _, health in theirs} == {"up"}

    wait_until(same, 90, "the same Ray targets, up, in both Prometheus servers")
    assert {job for job, _, _ in _targets(operator_prometheus)} == {"ray", "ray-autoscaler", "ray-dashboard"}


def test_the_operators_rule_file_loads_and_evaluates(operator_prometheus):
    def groups() -> list[dict]:
        return http_json(f"{operator_prometheus.url}/api/v1/rules")["data"]["groups"]

    wait_until(lambda: groups() and all(not g["lastEvaluation"].startswith("0001") for g in groups()), 90,
               "every rule group evaluated")
    rules = [rule for group in groups() for rule in group["rules"]]
    assert {rule["type"] for rule in rules} == {"alerting", "recording"}
    assert all(rule["health"] == "ok" for rule in rules), [r for r in rules if r["health"] != "ok"][:3]
    # Ray's dashboards, as the stack hands them to the user's Grafana, read these: the operator's Prometheus
    # records them from the pods it discovered.
    assert RAY_DASHBOARD_RULES in {g["name"] for g in groups()}
    wait_until(lambda: operator_prometheus.query("ray_dashboards:ray_node_cpu_count:sum"), 60,
               "a recorded sum of the Ray pods' series")
