"""Ray's own dashboards on precomputed series: the recording rules behind their cluster-wide sums, and the
dashboards served reading them (no Pulumi here).

A panel such as "Active Tasks by Name", `sum(ray_tasks{instance=~"$Instance", ...}) by (Name)`, reads every
node's series at every step: at 1,000 nodes that is most of the Metrics tab's cost (docs/sizing.md). A rule
sums them once per evaluation, keeping every label the query filters or groups on except the node's own
(`instance`, `NodeAddress`), so the panel reads a few series instead of thousands. The Instance variable still
works: at "All" (Grafana sends its allValue, `.+`) the panel reads the recorded sum; with nodes chosen it
reads those nodes' own series, as before. One query does both, with a matcher only one side can meet:

    (sum by (Name) ({__name__="ray_dashboards:ray_tasks:sum", __name__=~"$Instance", ...})
     or sum by (Name) ({__name__="ray_tasks", __name__!~"$Instance", instance=~"$Instance", ...}))

`.+` matches the rule's name, so at All the first side answers and the second selects nothing; a node's
address matches no metric name, so with nodes chosen it is the other way round. A sum of per-group sums is
the sum, and an average is a sum over a count, so every line a viewer sees is the same (to float rounding),
one evaluation interval behind at most. What stays as written, and why, is in the generated report
(dashboards/ray-precomputed.md): per-node panels (their answer is one line per node, and that is their
cost), functions over each series' range (rate, max_over_time), products of two series.

The rewrite is a pure function of the stored dashboards: the stack applies it as it loads them, and the rules
come from the same dashboards, so what Grafana serves and what Prometheus records cannot drift apart.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from components.builders.promql_sums import Aggregation, aggregate, aggregations, selector

GROUP = "ray-dashboards"
PREFIX = "ray_dashboards"  # recorded series: ray_dashboards:<metric>:sum / :count
NODE_LABELS = ("instance", "NodeAddress")  # one value per node: what Ray's Instance variable filters
MATCHES_EVERY_NAME = (".+", ".*")  # an allValue that a recorded series' name meets too
# Exported by every node's raylet and agent (a live test reads them in a worker's payload): their sums read a
# node's series a thousand times over at 1,000 nodes. The rest (autoscaler, GCS, Serve, Data, Train, LLM) come
# from a few processes, so a recorded sum would hold about as many series as it reads.
EVERY_NODE = ("ray_node_", "ray_component_", "ray_tasks", "ray_actors", "ray_resources", "ray_object_store_memory")


@dataclass
class Target:
    """One panel query of one dashboard, and what became of it."""

    dashboard: str  # file name
    panel: str  # title
    panel_id: int
    original: str
    rewritten: str
    left: list[tuple[str, str]] = field(default_factory=list)  # (a sum in it read as written, why)


@dataclass
class Plan:
    """The rules a set of Ray dashboards needs, and each of their queries rewritten to read them."""

    labels: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))  # (metric, op) -> by
    targets: list[Target] = field(default_factory=list)

    def group(self) -> dict[str, Any]:
        rules = [{"record": recorded(metric, op), "expr": aggregate(op, tuple(sorted(by)), metric)}
                 for (metric, op), by in sorted(self.labels.items())]
        return {"name": GROUP, "rules": rules}


def recorded(metric: str, op: str) -> str:
    return f"{PREFIX}:{metric}:{op}"


def _all_values(dashboard: dict[str, Any]) -> dict[str, str | None]:
    return {v["name"]: v.get("allValue") for v in dashboard.get("templating", {}).get("list", [])
            if v.get("includeAll")}


def _node_variable(a: Aggregation, all_values: dict[str, str | None]) -> tuple[str | None, str | None]:
    """(the variable the node matcher uses or None, why the sum is not precomputed or None)."""
    if not a.metric.startswith(EVERY_NODE):
        return None, "not exported by every node: a recorded sum would read about as many series as it holds"
    if set(a.by) & set(NODE_LABELS):
        return None, "one line per node: the answer's size is its cost"
    node = [m for m in a.matchers if m.label in NODE_LABELS]
    if not node:
        return None, None
    variables = {m.variable for m in node}
    if len(variables) > 1 or None in variables or any(m.op != "=~" for m in node):
        return None, "filters nodes by something other than one dashboard variable"
    (variable,) = variables
    assert variable is not None
    if all_values.get(variable) not in MATCHES_EVERY_NAME:
        return None, f"${variable} at All sends every node's name, so no recorded sum can answer it"
    return variable, None


def _rewritten(a: Aggregation, variable: str | None) -> str:
    others = [m.render() for m in a.matchers if m.label not in NODE_LABELS]
    gate = [f'__name__=~"${variable}"'] if variable else []

    def recorded_sum(op: str, ops: str) -> str:
        return aggregate("sum", a.by, selector(recorded(a.metric, op), [*gate, *others]) + ops)

    cluster = recorded_sum("sum", a.scalar_ops)
    if a.op == "avg":
        cluster = f"{cluster} / {recorded_sum('count', '')}"
    if variable is None:
        return f"({cluster})" if a.op == "avg" else cluster
    own = selector(a.metric, [f'__name__!~"${variable}"', *(m.render() for m in a.matchers)])
    return f"({cluster} or {aggregate(a.op, a.by, own + a.scalar_ops)})"


def _plan_expr(plan: Plan, expr: str, all_values: dict[str, str | None]) -> tuple[str, list[tuple[str, str]]]:
    found, left = aggregations(expr)
    pieces, position = [], 0
    for a in found:
        variable, reason = _node_variable(a, all_values)
        if reason:
            left.append((expr[a.start:a.end], reason))
            continue
        by = a.labels() - set(NODE_LABELS)
        plan.labels[(a.metric, "sum")] |= by
        if a.op == "avg":
            plan.labels[(a.metric, "count")] |= by
        pieces += [expr[position:a.start], _rewritten(a, variable)]
        position = a.end
    return "".join([*pieces, expr[position:]]), left


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every panel, those inside (collapsed) rows too."""
    return [x for panel in panels for x in [panel, *_panels(panel.get("panels", []))]]


def plan(dashboards: dict[str, str]) -> Plan:
    """The plan for Ray's dashboards of one version (file name -> JSON as stored)."""
    result = Plan()
    for name, content in sorted(dashboards.items()):
        dashboard = json.loads(content)
        all_values = _all_values(dashboard)
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                if "expr" not in target:
                    continue
                rewritten, left = _plan_expr(result, target["expr"], all_values)
                result.targets.append(Target(name, panel.get("title", ""), panel.get("id", 0), target["expr"],
                                             rewritten, left))
    return result


def rewrite(name: str, content: str, plan: Plan) -> str:
    """Dashboard `name` with its queries as `plan` rewrote them; everything else as stored."""
    by_query = {(t.panel_id, t.original): t.rewritten for t in plan.targets if t.dashboard == name}
    dashboard = json.loads(content)
    changed = False
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            new = by_query.get((panel.get("id", 0), target.get("expr")))
            if new is not None and new != target["expr"]:
                target["expr"], changed = new, True
    return json.dumps(dashboard, indent=2) + "\n" if changed else content
