"""The doctor's logs checks, where the stack ships Ray's logs: Grafana's "Ray logs" datasource answers, and
every Ray node Prometheus sees has sent lines lately.

Both go through Grafana, so the log store's own address (inside the cluster, or on the head) need not be
reachable from where the doctor runs: the datasource's health check, and its resource API, which forwards
`label/<name>/values` to Loki's /loki/api/v1/label/<name>/values (Grafana's pkg/tsdb/loki/loki.go,
callResource; healthcheck.go queries `vector(1)+vector(1)`).
"""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode

from components.constants import GRAFANA_LOGS_DATASOURCE_UID
from doctor.checks import Check, Context, Expectations, Findings, Need, Result, fixed, names, run_table
from doctor.http import Http

# A node that logged nothing for this long is not shipping: Ray's raylet alone writes every few seconds.
WINDOW_SECONDS = 15 * 60
NODE_LABEL = "ray_node"  # the collectors' name for their node (components/builders/logs/collector_config.py)
# How Prometheus names each node the way its collector does, per platform: (metric, selector, label).
NODE_NAMES = {
    # The collector's RAY_MONITORING_NODE is its pod's name (the downward API); the scrape labels each pod's
    # series with `pod`.
    "kubernetes": ("ray_node_cpu_utilization", "", "pod"),
    # The collector's HOSTNAME is the instance's name (Docker, on the host's network); node_exporter's
    # uname nodename on the same instance is that name.
    "aws": ("node_uname_info", 'job="node"', "nodename"),
}
COLLECTOR_LOGS = {"kubernetes": "kubectl logs -n NAMESPACE POD -c log-collector",
                  "aws": "on that node: docker compose logs log-collector"}


def node_names(http: Http, prometheus_url: str, platform: str, only: str = "") -> list[str]:
    """The nodes Prometheus has current series from, named as their log collectors name them. `only`: label
    matchers of the nodes that ship (a patched cluster's heads), "" for all."""
    metric, selector, label = NODE_NAMES[platform]
    matchers = ",".join(m for m in (selector, only) if m)
    reply = http.json(f"{prometheus_url}/api/v1/query?" + urlencode({"query": f"count by ({label}) "
                                                                                f"({metric}{{{matchers}}})"}))
    return sorted({s["metric"].get(label, "") for s in reply["data"]["result"]} - {""})


def _datasource_url(ctx: Context) -> str:
    return f"{ctx.url}/api/datasources/uid/{quote(GRAFANA_LOGS_DATASOURCE_UID)}"


def _datasource(ctx: Context) -> tuple[bool, str]:
    checked = ctx.http.get(f"{_datasource_url(ctx)}/health", auth=ctx.admin)
    if checked.status == 404:
        return False, f"Grafana has no datasource with uid {GRAFANA_LOGS_DATASOURCE_UID!r}"
    reply = checked.json() if checked.body else {}
    if checked.status != 200 or reply.get("status") != "OK":
        return False, f"the logs datasource cannot query the store: {reply.get('message', checked.status)}"
    return True, reply.get("message", "OK")


def _every_node(ctx: Context) -> tuple[bool, str]:
    now = time.time_ns()
    window = urlencode({"start": now - WINDOW_SECONDS * 10**9, "end": now})
    reply = ctx.http.json(f"{_datasource_url(ctx)}/resources/label/{NODE_LABEL}/values?{window}", auth=ctx.admin)
    logged = set(reply.get("data") or [])
    seen = ctx.findings.node_names or []
    missing = [node for node in seen if node not in logged]
    if missing:
        return False, (f"Prometheus sees {len(seen)} node(s); no log line in the last {WINDOW_SECONDS // 60} min "
                       f"from {', '.join(missing)}")
    return True, f"lines from all {len(seen)} node(s) Prometheus sees in the last {WINDOW_SECONDS // 60} min"


ADMIN = Need(lambda ctx: ctx.admin is not None, "needs the admin password (--grafana-password-file)")
LOGS_TABLE = (
    Check("logs datasource connects",
          fixed("the store does not answer Grafana: kubectl get pods -n monitoring -l app.kubernetes.io/name=loki "
                "(EC2: docker compose logs loki on the head); pulumi up again if the datasource is missing"),
          _datasource, needs=(ADMIN,)),
    Check("logs arrive from every Ray node",
          lambda ctx: (f"that node's collector is not sending ({COLLECTOR_LOGS.get(ctx.exp.logs or '', '')}); "
                       "docs/logs.md lists what it needs"), _every_node,
          needs=(ADMIN, Need(lambda ctx: ctx.findings.node_names is not None,
                             "Prometheus was not queried, so the nodes to expect logs from are unknown"))),
)
LOGS_CHECKS = names(LOGS_TABLE)


def logs(http: Http, url: str, password: str | None, exp: Expectations, findings: Findings) -> list[Result]:
    return run_table(LOGS_TABLE, Context(http, url, exp, findings, password),
                     "the logs datasource does not answer")
