"""promtool tests that a query rewritten to recorded series draws what the query it replaced drew.

Series are made up for the labels the queries filter and group on, as many nodes, sessions and clusters as
it takes for every choice of the dashboards' variables to select something different: several raw series
per recorded one (a `WorkerId` the sums fold away), counters and gauges, a series that goes stale half way.
At each evaluation time promtool checks, for each query and variable choice, that both queries return the
same label sets and values; at All, and for one node, that they return something.
"""

from __future__ import annotations

import random
import re
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import yaml

from components.builders import ray_dashboard_rules
from components.builders.promql_sums import Aggregation, Matcher, aggregations
from support.grafana_queries import expand
from support.tools import promtool

INTERVAL = "30s"
EVAL_TIMES = ("2m", "6m")  # before and after a quarter of the series go stale (at 4 m)
NODES = ("10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080")
FIXED = {  # labels a variable filters, with the values the made-up nodes carry
    "instance": NODES, "NodeAddress": NODES, "SessionName": ("session_a", "session_b"),
    "ray_io_cluster": ("cluster-a", "cluster-b"), "RayNodeType": ("head", "worker"),
}
# Grafana's text for each choice (support.grafana_queries: All is the variable's allValue); every other
# variable stays at All.
CHOICES: dict[str, dict[str, str]] = {
    "all": {},
    # Grafana escapes a chosen value's regex characters, as a PromQL string writes them (`\\.`).
    "one node": {"Instance": r"10\\.0\\.0\\.2:8080"},
    "two nodes": {"Instance": r"(10\\.0\\.0\\.1:8080|10\\.0\\.0\\.3:8080)"},
    "one session": {"SessionName": "session_b"},
    "one cluster": {"Cluster": "cluster-a"},
    "worker nodes": {"RayNodeType": "worker"},
}
MUST_DRAW = ("all", "one node")
SPECIALS = {"__rate_interval": "2m", "__interval": "30s", "__range": "5m", "__range_s": "300"}


def _literal_values(matcher_value: str) -> list[str]:
    """Values that meet and miss a matcher: its alternatives with regex characters dropped, and one more."""
    text = matcher_value.strip("\"'")
    if "$" in text:
        return []
    return [re.sub(r"[*+?.^$()\[\]\\]", "", part) for part in text.split("|") if part] + ["OTHER"]


def _meeting(m: Matcher) -> str | None:
    """A value that meets a literal matcher (None for a variable's: every value made up meets All)."""
    values = _literal_values(m.value)
    if not values:
        return None
    return values[0] if m.op in ("=", "=~") else "OTHER"


def label_values(plan: ray_dashboard_rules.Plan) -> dict[str, dict[str, list[str]]]:
    """metric -> label -> the values its made-up series take."""
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for a in _recorded_aggregations(plan):
        for label in a.labels() | {"instance"}:
            found[a.metric][label] |= set(FIXED.get(label, ("a", "b")))
        for m in a.matchers:
            found[a.metric][m.label] |= set(_literal_values(m.value))
    return {metric: {label: sorted(v) for label, v in labels.items()} for metric, labels in found.items()}


def _recorded_aggregations(plan: ray_dashboard_rules.Plan) -> list[Aggregation]:
    """Every sum over a metric the plan records, rewritten or not: the made-up series serve them all."""
    return [a for t in plan.targets for a in aggregations(t.original)[0] if (a.metric, "sum") in plan.labels]


def _rows(plan: ray_dashboard_rules.Plan, metric: str) -> list[dict[str, str]]:
    """For each query's literal matchers, values that meet them all, on every node: so each query draws
    something at All and for any one node."""
    rows = []
    for a in _recorded_aggregations(plan):
        if a.metric == metric:
            met = {m.label: v for m in a.matchers if (v := _meeting(m)) is not None}
            rows += [{**met, "instance": node} for node in NODES]
    return rows


def series(plan: ray_dashboard_rules.Plan, metric: str, labels: dict[str, list[str]]) -> list[dict[str, str]]:
    """The rows that meet each query, then as many drawn at random (seeded by the metric); two raw series (two
    WorkerIds) for each, so the sums fold something."""
    pick = random.Random(metric)  # the same series on every run
    made: list[dict[str, str]] = []
    meeting = _rows(plan, metric)
    for fixed in [*meeting, *({} for _ in range(max(len(meeting), 12)))]:
        chosen = {**{name: pick.choice(values) for name, values in sorted(labels.items())}, **fixed}
        for worker in ("w1", "w2"):
            text = ",".join(f'{k}="{v}"' for k, v in sorted({**chosen, "WorkerId": worker}.items()))
            base, step = 1 + (len(made) * 7) % 13, (len(made) % 5) * 0.5
            values = f"{base}+{step}x7 stale" if len(made) % 4 == 3 else f"{base}+{step}x14"
            made.append({"series": f"{metric}{{{text}}}", "values": values})
    return made


def sent(expr: str, chosen: dict[str, str], all_values: dict[str, str]) -> str:
    return expand(expr, {**all_values, **SPECIALS, **chosen})


def cases(original: str, rewritten: str, choice: str, all_values: dict[str, str]) -> list[dict]:
    chosen = CHOICES[choice]
    raw, recorded = sent(original, chosen, all_values), sent(rewritten, chosen, all_values)
    found = []
    for at in EVAL_TIMES:
        found += [{"expr": f"({raw}) unless ({recorded})", "eval_time": at, "exp_samples": []},
                  {"expr": f"({recorded}) unless ({raw})", "eval_time": at, "exp_samples": []},
                  {"expr": f"abs(({recorded}) - ({raw})) > 1e-9", "eval_time": at, "exp_samples": []}]
        if choice in MUST_DRAW:
            found.append({"expr": f"count({recorded}) > bool 0", "eval_time": at,
                          "exp_samples": [{"labels": "{}", "value": 1}]})
    return found


def all_values(dashboard_json: str) -> dict[str, str]:
    """What Grafana sends for each variable at All (support.grafana_queries' rule)."""
    import json

    from support.grafana_queries import _variable_values

    return _variable_values(json.loads(dashboard_json), {})


def run(tmp_path: Path, group: dict, plan: ray_dashboard_rules.Plan, dashboards: dict[str, str],
        choices: Iterable[str] = CHOICES) -> subprocess.CompletedProcess[str]:
    """promtool test rules over every rewritten query of `plan`, with `group` as the rules."""
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False, width=1000))
    defaults = {name: all_values(content) for name, content in dashboards.items()}
    pairs = {(t.dashboard, t.original, t.rewritten) for t in plan.targets if t.rewritten != t.original}
    tests = [case for name, original, rewritten in sorted(pairs) for choice in choices
             for case in cases(original, rewritten, choice, defaults[name])]
    inputs = [s for metric, labels in sorted(label_values(plan).items()) for s in series(plan, metric, labels)]
    test_file = tmp_path / "tests.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": INTERVAL, "tests": [
        {"interval": INTERVAL, "input_series": inputs, "promql_expr_test": tests}]}, width=10000))
    return subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True, timeout=600)
