"""Scenario 5, operator mode: the PodMonitor and PrometheusRule the minikube stack registers beside a
kube-prometheus-stack are accepted by the real API server as sent (nothing pruned by the Prometheus
Operator v0.93.0 CRDs' schemas), and the real Prometheus Operator, running against it, renders a Prometheus
configuration and rule file from them that promtool accepts, with the job names the rules and the doctor
expect."""

from __future__ import annotations

import base64
import gzip
import os
import subprocess

import pytest
import yaml

from support.control_plane import NAMESPACE, load_yaml
from support.go_tools import PROMETHEUS_RELEASE, build, module_dir
from support.live import Processes, wait_until
from support.loopback import free_port
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
    crds = sorted((module_dir("prometheus-operator") / "example" / "prometheus-operator-crd").glob("*.yaml"))
    for path in crds:
        crd = load_yaml(path.read_text())
        control_plane.create(crd)
        control_plane.wait_for_crd(crd["metadata"]["name"])
    control_plane.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": MONITORING}})
    result = run_stack("minikube", **OPERATOR_MODE)
    assert result.error is None, result.error
    sent = [result.one(POD_MONITOR, "prometheus-operator-pod-monitor").plain,
            result.one(RULE, "prometheus-operator-rules").plain]
    for document in sent:
        control_plane.create(document)
    control_plane.create(PROMETHEUS)
    processes = Processes()
    workdir = tmp_path_factory.mktemp("prometheus-operator")
    try:
        # The operator has no --kubeconfig flag; it reads KUBECONFIG (pkg/k8s/k8s.go, NewClusterConfig).
        processes.start("prometheus-operator", [
            str(build("prometheus-operator")), f"--web.listen-address=127.0.0.1:{free_port()}", "--log-level=info",
        ], workdir / "operator.log", env={**os.environ, "KUBECONFIG": str(control_plane.kubeconfig)})
        wait_until(lambda: _secret(control_plane), 180,
                   f"the operator's configuration Secret (see {workdir / 'operator.log'})", interval=1)
        wait_until(lambda: _rule_files(control_plane), 60, "the operator's rule files", interval=1)
        yield sent, _secret(control_plane), _rule_files(control_plane)
    finally:
        processes.stop_all()


def _secret(control_plane) -> dict | None:
    secret = control_plane.find("v1", "Secret", "prometheus-kube-prometheus-stack", MONITORING)
    data = secret.data.to_dict() if secret is not None and secret.data else {}
    if "prometheus.yaml.gz" not in data:
        return None
    config = yaml.safe_load(gzip.decompress(base64.b64decode(data["prometheus.yaml.gz"])))
    return config if any(j["job_name"].startswith("podMonitor/") for j in config.get("scrape_configs") or []) \
        else None


def _rule_files(control_plane) -> dict[str, str] | None:
    found = control_plane.find("v1", "ConfigMap", "prometheus-kube-prometheus-stack-rulefiles-0", MONITORING)
    data = found.data.to_dict() if found is not None and found.data else {}
    return data or None


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
