"""The "Ray logs" dashboard: built from its builder, its LogQL parsed by Grafana's own grammar, its labels the
ones the collectors index, served only where the stack ships logs."""

from __future__ import annotations

import json
import re

import pytest

from components.builders.logs import collector_config, dashboard
from components.builders.logs.loki_config import INDEX_LABELS
from support.paths import PROJECT_ROOT
from support.stacks import run_stack
from support.tools import logql_errors


def substituted(expression: str) -> str:
    for variable, value in sorted(dashboard.VARIABLE_DEFAULTS.items(), key=lambda item: -len(item[0])):
        expression = expression.replace(variable, value)
    return expression


def test_the_committed_dashboard_is_its_builders():
    committed = (PROJECT_ROOT / "dashboards" / "logs" / "ray.json").read_text()
    assert committed == dashboard.render(), "run venv/bin/python dashboards/regenerate.py"
    board = json.loads(committed)
    assert board["uid"] == "rayMonitoringLogs"
    assert [v["name"] for v in board["templating"]["list"]] == ["Cluster", "Node", "Component", "Job", "Search"]
    assert all(p["datasource"] == {"type": "loki", "uid": "ray-logs"} for p in board["panels"])


def test_every_expression_parses_with_grafanas_logql_grammar(tmp_path):
    expressions = {name: substituted(e) for name, e in dashboard.expressions().items()}
    assert len(expressions) == 4
    assert logql_errors(expressions, tmp_path) == {name: [] for name in expressions}


def test_the_logql_check_can_fail(tmp_path):
    errors = logql_errors({"unclosed": '{ray_node=~".+" | ', "bad range": "count_over_time({a=\"b\"} [)"}, tmp_path)
    assert errors["unclosed"] and errors["bad range"]


def test_all_stands_for_a_matcher_loki_accepts():
    """Loki refuses a stream selector whose every matcher matches the empty string ("queries require at least
    one regexp or equality matcher that does not have an empty-compatible value": Loki's LogQL parser,
    pkg/logql/syntax/parser.go errAtleastOneEqualityMatcherRequired)."""
    for variable in json.loads(dashboard.render())["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["allValue"] == ".+" and variable["includeAll"]


def test_it_filters_by_the_labels_the_collectors_index_and_the_job_they_attach():
    labels = set(re.findall(r"(\w+)=~", dashboard.STREAM))
    assert labels == set(INDEX_LABELS) - {"ray_node_type"}
    attributes = {name for _, regex in collector_config.NAME_FAMILIES for name in re.findall(r"\?P<(\w+)>", regex)}
    assert "ray_job_id" in attributes and 'ray_job_id=~"$Job.*"' in dashboard.FILTERS


@pytest.mark.parametrize("logs", ["true", "false"])
def test_grafana_serves_it_only_where_logs_are_shipped(logs):
    minikube, aws = run_stack("minikube", logs=logs), run_stack("aws", logs=logs)
    assert minikube.error is None and aws.error is None, (minikube.error, aws.error)
    maps = {r.name for r in minikube.of_type("kubernetes:core/v1:ConfigMap")}
    assert ("grafana-dashboard-logs-ray" in maps) == (logs == "true")
    assert ("/opt/ray-monitoring/dashboards/logs-ray.json" in aws.config()) == (logs == "true")
