"""Checks for the PromQL the project ships (overview panels, alert rules): every metric name is one
Ray really exports, and every expression parses with the real promtool."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from components.builders import alert_rules, recording_rules
from components.builders.alert_rules import AlertSettings
from components.builders.dashboard_catalogue import ray_dashboard_rules_group
from support.tools import promtool

DATA = Path(__file__).resolve().parent.parent / "data"
RAY_DASHBOARDS = Path(__file__).resolve().parent.parent.parent / "dashboards" / "ray"
# Recorded from a live Ray 2.60.0 head and worker.
RECORDED = {line for line in (DATA / "ray-2.60.0-metric-names.txt").read_text().split()
            if not line.startswith("#")} - {"#"}


def generated_panel_names() -> set[str]:
    """Metric names in the panels Ray 2.60.0 generates for itself (dashboards/ray/): the names Ray
    emits only where it sees a GPU, which a CPU-only recording lacks, are there."""
    names = set()
    for path in RAY_DASHBOARDS.glob("*.json"):
        names |= set(re.findall(r"\b(ray_[a-z0-9_]+)", path.read_text()))
    return names


METRIC_NAMES = RECORDED | generated_panel_names()
PROMETHEUS_OWN = {"up"}
PROMQL_WORDS = {"sum", "by", "max", "min", "rate", "increase", "absent", "on", "without", "and", "or",
                "unless", "count", "avg", "humanize", "bool"}


# The recording rules' series stand for their expressions: a name they read must be Ray's too.
RECORDING_RULES = recording_rules.sources()
# The group behind Ray's dashboards of the pinned Ray, which both stacks deploy beside the alerts by default.
DASHBOARD_RULES = ray_dashboard_rules_group(None)
DEPLOYED_RULES = alert_rules.render(AlertSettings(), DASHBOARD_RULES)  # the rules file both stacks deploy
# What promtool says of that file: the alerts and every recording rule.
RECORDED_COUNT = len(recording_rules.RECORDED) + len(DASHBOARD_RULES["rules"])
RULES_FOUND = f"SUCCESS: {len(alert_rules.ALERT_NAMES) + RECORDED_COUNT} rules found"
# And of agent mode's `alertRules` output (Ray's dashboards are served as generated there).
AGENT_RULES_FOUND = f"SUCCESS: {len(alert_rules.ALERT_NAMES) + len(recording_rules.RECORDED)} rules found"


def metric_names(expr: str) -> set[str]:
    """Identifiers followed by a selector or a range, minus PromQL functions and label names; a recorded
    series counts as the names its rule reads."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "{}", without_strings)
    without_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_labels)
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", without_groupings))
    found = {n for n in names if n not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]?", n)}
    for recorded in found & set(RECORDING_RULES):
        found = (found - {recorded}) | metric_names(RECORDING_RULES[recorded])
    return found


def assert_real_metric_names(expressions: dict[str, str]) -> None:
    assert len(METRIC_NAMES) > 150
    assert expressions
    for name, expr in expressions.items():
        unknown = metric_names(expr) - METRIC_NAMES - PROMETHEUS_OWN
        assert not unknown, f"{name} uses metrics Ray 2.60 does not export: {unknown}"


def assert_expressions_parse(expressions: dict[str, str], tmp_path: Path) -> None:
    """Every expression through `promtool check rules`, as recording rules."""
    assert expressions
    groups = [{"name": "parse", "rules": [{"record": f"check:{i}", "expr": expr}
                                          for i, expr in enumerate(expressions.values())]}]
    path = tmp_path / "parse.yml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def as_grafana_sends(expr: str) -> str:
    """An overview expression as Grafana sends it when every variable is at its default."""
    from components.builders.overview_dashboard import VARIABLE_DEFAULTS

    for variable, value in VARIABLE_DEFAULTS.items():
        expr = expr.replace(variable, value)
    return expr
