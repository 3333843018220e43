"""The overview's recording rules: evaluated by the real promtool, the recorded panels draw what the raw
queries they replaced would, for every cluster and session choice; deployed wherever the alerts are."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from components.builders import alert_rules, dashboard_catalogue, overview_dashboard, recording_rules
from components.builders.alert_rules import AlertSettings
from components.builders.recording_rules import OBJECT_STORE_BY_NODE, TASKS_BY_STATE
from support.tools import promtool

# The panels' queries before the rules, as the overview had them.
RAW = {
    "Tasks by state #0": 'sum by (State) (ray_tasks{ray_io_cluster=~"$Cluster",SessionName=~"$SessionName",'
                         'State!~"FINISHED|FAILED"})',
    "Object store used vs capacity #0": 'sum by (instance) (ray_object_store_memory{ray_io_cluster=~"$Cluster",'
                                        'SessionName=~"$SessionName",instance=~"$Instance"})',
}
CHOICES = [  # (Cluster, SessionName, Instance) as Grafana substitutes them
    (".*", ".+", ".+"),
    ("a", ".+", ".+"),
    ("a", "session_1", ".+"),
    ("b", ".+", "10.0.0.2:8080"),
]


def _series() -> list[dict[str, str]]:
    """Two clusters, two sessions, two nodes each, tasks in several states from several task functions
    and object store memory in several locations: what the sums fold together."""
    series = []
    for cluster in ("a", "b"):
        for session in ("session_1", "session_2"):
            for node, address in enumerate(("10.0.0.1:8080", "10.0.0.2:8080")):
                common = f'ray_io_cluster="{cluster}",SessionName="{session}",instance="{address}"'
                for state, name in (("RUNNING", "f"), ("RUNNING", "g"), ("PENDING_NODE_ASSIGNMENT", "f"),
                                    ("FINISHED", "f")):
                    series.append({"series": f'ray_tasks{{{common},State="{state}",Name="{name}"}}',
                                   "values": f"{node + 1}+{len(series)}x10"})
                for location in ("MMAP_SHM", "SPILLED"):
                    series.append({"series": f'ray_object_store_memory{{{common},Location="{location}"}}',
                                   "values": f"{1000 * (node + 1)}+{len(series)}x10"})
    return series


def _sent(expr: str, cluster: str, session: str, instance: str) -> str:
    return (expr.replace("$Cluster", cluster).replace("$SessionName", session).replace("$Instance", instance)
            .replace("$Nodes", overview_dashboard.ALL_NODES).replace("$__range", "5m"))


def _same_drawing(recorded: str, raw: str) -> list[dict]:
    """promtool checks, at one time: the recorded panel draws something, as many lines as the raw query,
    and each of its lines has a line of the raw query with the same labels and value."""
    return [{"expr": f"count({recorded}) > bool 0", "eval_time": "5m", "exp_samples": [{"labels": "{}", "value": 1}]},
            {"expr": f"count({recorded}) - count({raw})", "eval_time": "5m",
             "exp_samples": [{"labels": "{}", "value": 0}]},
            {"expr": f"count({recorded}) - count(({recorded}) - ({raw}) == 0)", "eval_time": "5m",
             "exp_samples": [{"labels": "{}", "value": 0}]}]


def _promtool_test(tmp_path, rules_text: str) -> subprocess.CompletedProcess[str]:
    rules = tmp_path / alert_rules.FILE_NAME
    rules.write_text(rules_text)
    panels = overview_dashboard.expressions()
    cases = [case for panel in RAW for choice in CHOICES
             for case in _same_drawing(_sent(panels[panel], *choice), _sent(RAW[panel], *choice))]
    test_file = tmp_path / "tests.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "30s", "tests": [
        {"interval": "30s", "input_series": _series(), "promql_expr_test": cases}]}))
    return subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True, timeout=120)


def test_recorded_panels_draw_what_the_raw_queries_did(tmp_path):
    panels = overview_dashboard.expressions()
    assert TASKS_BY_STATE.name in panels["Tasks by state #0"]
    assert OBJECT_STORE_BY_NODE.name in panels["Object store used vs capacity #0"]
    result = _promtool_test(tmp_path, alert_rules.render(AlertSettings()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_recording_that_drops_a_filtered_label_is_caught(tmp_path):
    broken = alert_rules.rules(AlertSettings())
    for rule in broken["groups"][-1]["rules"]:
        rule["expr"] = rule["expr"].replace("SessionName, ", "")
    result = _promtool_test(tmp_path, yaml.safe_dump(broken))
    assert result.returncode == 1 and "session_1" in result.stdout + result.stderr


@pytest.mark.parametrize("stack", ["minikube", "aws", "operator"])
def test_the_recording_rules_are_deployed_wherever_the_alerts_are(stack, minikube, aws):
    from support.stacks import OPERATOR_MODE, run_stack

    if stack == "minikube":
        text = minikube.one("kubernetes:core/v1:ConfigMap", "prometheus-config").plain["data"][alert_rules.FILE_NAME]
        groups = yaml.safe_load(text)["groups"]
    elif stack == "aws":
        groups = yaml.safe_load(aws.config()[f"/opt/ray-monitoring/prometheus/{alert_rules.FILE_NAME}"])["groups"]
    else:
        operator = run_stack("minikube", **OPERATOR_MODE)
        (rule,) = operator.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
        groups = rule.plain["spec"]["groups"]
    assert recording_rules.group() in groups
    # And those behind Ray's dashboards, for the Ray version whose dashboards it serves.
    assert dashboard_catalogue.ray_dashboard_rules_group(None) in groups


def test_ray_dashboards_read_the_recorded_sums_wherever_the_rules_are_evaluated(minikube, aws):
    served = minikube.one("kubernetes:core/v1:ConfigMap", "grafana-dashboard-ray-default").plain["data"]
    assert "ray_dashboards:ray_tasks:sum" in served["ray-default.json"]
    on_ec2 = aws.config()["/opt/ray-monitoring/dashboards/ray-default.json"]
    assert "ray_dashboards:ray_tasks:sum" in on_ec2
