"""Recording rules behind the overview's slowest panels (no Pulumi here).

"Tasks by state" and "Object store used vs capacity" read several series per node (ray_tasks: one per
state and task function on every node; ray_object_store_memory: one per location) for each of the hour's
241 points, where the other panels read one per node: at 1,000 nodes, one request at a time over a
replayed hour, they took 0.70 s and 0.62 s against 0.27-0.32 s for the others (tests/benchmarks/
query_cost.py replays the hour; docs/sizing.md). Prometheus sums them once per evaluation instead; the
panels read the sums. The sums keep the labels the overview's variables filter on (cluster, session),
so the panels still follow the chosen cluster and session.
They live in the alert rules' file and PrometheusRule, so every place that evaluates the alerts evaluates
these too (agent mode: the store's ruler, from the alertRules output).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GROUP = "ray-monitoring-overview"
FILTERED_BY = "ray_io_cluster, SessionName"  # the overview's Cluster and Session variables


@dataclass(frozen=True)
class Recorded:
    name: str  # level:metric:operation, Prometheus' naming convention for recording rules
    expr: str


TASKS_BY_STATE = Recorded("cluster_session_state:ray_tasks:sum", f"sum by ({FILTERED_BY}, State) (ray_tasks)")
OBJECT_STORE_BY_NODE = Recorded("cluster_session_instance:ray_object_store_memory:sum",
                                f"sum by ({FILTERED_BY}, instance) (ray_object_store_memory)")
RECORDED = (TASKS_BY_STATE, OBJECT_STORE_BY_NODE)


def group() -> dict[str, Any]:
    """Evaluated at the global evaluation interval (the scrape interval on both stacks)."""
    return {"name": GROUP, "rules": [{"record": r.name, "expr": r.expr} for r in RECORDED]}


def sources() -> dict[str, str]:
    """Recorded series name -> the expression it stands for."""
    return {r.name: r.expr for r in RECORDED}
