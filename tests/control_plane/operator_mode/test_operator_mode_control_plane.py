"""Scenario 5, operator mode: the PodMonitor and PrometheusRule the minikube stack registers beside a
kube-prometheus-stack are accepted by the real API server as sent (nothing pruned by the Prometheus
Operator v0.93.0 CRDs' schemas), and the real Prometheus Operator, running against it, renders a Prometheus
configuration and rule file from them that promtool accepts, with the job names the rules and the doctor
expect."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from support.control_plane import NAMESPACE
from support.go_tools import PROMETHEUS_RELEASE
from support.live import Processes
from support.operator_control_plane import install_crds, start_operator, wait_for_rendered
from support.prometheus_operator import final_labels
from support.promql import RULES_FOUND
from support.stacks import OPERATOR_MODE, run_stack
from support.tools import promtool

MONITORING = "monitoring"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
# As kube-prometheus-stack's Prometheus selects them: by its release label, in every namespace. The
# operator writes the configuration for `version`'s Prometheus: the one the stack ships, whose promtool checks it.
PROMETHEUS = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
              "metadata": {"name": "kube-prometheus-stack", "namespace": MONITORING},
              "spec": {"version": PROMETHEUS_RELEASE,
                       "podMonitorSelector": {"matchLabels": {"release": "kube-prometheus-stack"}},
                       "podMonitorNamespaceSelector": {},
                       "ruleSelector": {"matchLabels": {"release": "kube-prometheus-stack"}},
                       "ruleNamespaceSelector": {}}}


@pytest.fixture(scope="module")
def rendered(control_plane, tmp_path_factory):
    """The operator's Prometheus configuration and rule files for the stack's objects."""
    install_crds(control_plane)
    control_plane.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": MONITORING}})
    result = run_stack("minikube", **OPERATOR_MODE)
    assert result.error is None, result.error
    sent = [result.one(POD_MONITOR, "prometheus-operator-pod-monitor").plain,
            result.one(RULE, "prometheus-operator-rules").plain]
    for document in sent:
        control_plane.create(document)
    control_plane.create(PROMETHEUS)
    processes = Processes()
    log = tmp_path_factory.mktemp("prometheus-operator") / "operator.log"
    try:
        start_operator(control_plane, processes, log)
        config, rule_files = wait_for_rendered(control_plane, PROMETHEUS["metadata"]["name"], MONITORING, log)
        yield sent, config, rule_files
    finally:
        processes.stop_all()


def test_the_api_server_keeps_every_field_the_stack_sends(rendered, control_plane):
    sent, _, _ = rendered
    for document in sent:
        stored = control_plane.read(document["apiVersion"], document["kind"], document["metadata"]["name"],
                                    document["metadata"]["namespace"]).to_dict()
        assert stored["spec"] == document["spec"], f"{document['kind']}: the CRD's schema pruned or changed fields"


def test_the_operators_configuration_passes_promtool_with_our_job_names(rendered, tmp_path):
    _, config, _ = rendered
    jobs = [j for j in config["scrape_configs"] if j["job_name"].startswith("podMonitor/")]
    assert len(jobs) == 3, [j["job_name"] for j in jobs]
    meta = {"__meta_kubernetes_namespace": NAMESPACE, "__meta_kubernetes_pod_name": "ray-training-cluster-head-x",
            "__meta_kubernetes_pod_container_name": "ray-head", "__meta_kubernetes_pod_label_ray_io_cluster": "c1",
            "__meta_kubernetes_pod_label_ray_io_node_type": "head", "__meta_kubernetes_pod_node_name": "node-1",
            "__address__": "10.0.0.5:8080"}
    # The rules' `job=~"ray.*"` and the doctor's checks read these names, not the operator's monitoring/ray.
    assert sorted(final_labels(j["relabel_configs"], meta)["job"] for j in jobs) == ["ray", "ray-autoscaler",
                                                                                    "ray-dashboard"]
    # As the operator rendered it, its Kubernetes discovery included.
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    checked = subprocess.run([promtool(), "check", "config", "--syntax-only", str(path)], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_operators_rule_file_holds_every_alert_and_recording_rule(rendered, tmp_path):
    _, _, rule_files = rendered
    (text,) = rule_files.values()
    path = tmp_path / "rules.yml"
    path.write_text(text)
    checked = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and RULES_FOUND in checked.stdout, checked.stdout + checked.stderr
