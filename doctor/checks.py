"""The doctor's checks, as tables of rows: each row names a check, the fix it prints when the check fails,
what it needs (a check whose needs are unmet is reported as not run, with the reason) and its test.
The first row of each table is its gate: when it fails, the rest of the table is not run.

They only read HTTP APIs (Prometheus, the Ray Dashboard, Grafana) through the `Http` they are given,
so the same code runs against a deployed stack and against the live tests' real processes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote, urlencode

from components.builders.ray_dashboard_rules import GROUP as RAY_DASHBOARD_RULES
from components.builders.recording_rules import GROUP as OVERVIEW_RULES
from components.builders.sizing import bytes_of, size
from doctor.http import Http, HttpError

RAY_SERIES = "ray_node_cpu_utilization"  # every Ray node reports it, labelled with its `ip`
AUTOSCALER_PORT, DASHBOARD_METRICS_PORT = "44217", "44227"


@dataclass
class Result:
    check: str
    ok: bool | None  # None: not run
    detail: str = ""
    fix: str = ""


@dataclass(frozen=True)
class Expectations:
    """What the stack set up; empty values are not checked."""

    datasource_name: str | None = None  # Grafana datasource = the head's RAY_PROMETHEUS_NAME
    iframe_host: str | None = None  # the head's RAY_GRAFANA_IFRAME_HOST
    dashboard_uids: tuple[str, ...] = ()  # uids Grafana must serve
    # The alerts, the overview's recording rules, and those Ray's dashboards read (wherever rules are evaluated).
    rule_groups: tuple[str, ...] = ("ray", OVERVIEW_RULES, RAY_DASHBOARD_RULES)
    ray_nodes: int | None = None  # the sizing plan (rayNodes)
    scrape_interval: str = "5s"
    retention_time: str = "15d"
    prometheus_memory_limit: str | None = None
    node_exporter: bool = False  # EC2: node_exporter beside every Ray node
    restart_command: str = ""  # recreates the Ray head so it reads its environment again
    remote_writes: int = 0  # stores Prometheus writes to (remoteWrite, managedPrometheus)
    prometheus_agent: bool = False  # agent mode: nothing to query locally
    config_hint: str = "pulumi config set"  # how the user changes a setting of this stack
    launched_nodes: int | None = None  # EC2: the head and the workers' group's desired capacity
    launched_fix: str = ""  # where to see why a launched node did not join
    logs: str | None = None  # the platform whose nodes ship Ray's logs (doctor/logs.py), or None: no logs
    logs_from: str = ""  # the nodes that ship them, as a series selector: "" every node, or the patched heads

    @property
    def planned_series(self) -> int | None:
        return (size(self.ray_nodes, self.scrape_interval, self.retention_time, self.node_exporter).series
                if self.ray_nodes else None)


@dataclass
class Findings:
    """What one check learns that a later one needs (the Ray Dashboard's live nodes)."""

    alive_nodes: list[str] | None = None  # "ip:metrics port" of every node Ray reports alive
    prometheus_reachable: bool | None = None
    node_names: list[str] | None = None  # the nodes Prometheus sees, named as their log collectors name them


@dataclass
class Context:
    """What a check reads: one service's URL, the stack's expectations, and what earlier checks found."""

    http: Http
    url: str
    exp: Expectations
    findings: Findings
    password: str | None = None  # Grafana's admin password
    ray_token: str | None = None  # Ray's token, where the cluster runs token authentication
    fetched: dict[str, Any] = field(default_factory=dict)  # responses shared by the checks of one table

    def once(self, key: str, fetch: Callable[[], Any]) -> Any:
        if key not in self.fetched:
            self.fetched[key] = fetch()
        return self.fetched[key]

    def query(self, expr: str) -> list[dict]:
        return self.http.json(f"{self.url}/api/v1/query?" + urlencode({"query": expr}))["data"]["result"]

    def value(self, expr: str) -> float | None:
        found = self.query(expr)
        return float(found[0]["value"][1]) if found else None

    @property
    def admin(self) -> tuple[str, str] | None:
        return ("admin", self.password) if self.password else None

    @property
    def restart(self) -> str:
        return self.exp.restart_command or "restart the Ray head"


@dataclass(frozen=True)
class Need:
    met: Callable[[Context], bool]
    why: str  # the reason the check is not run otherwise


@dataclass(frozen=True)
class Check:
    name: str
    fix: Callable[[Context], str]
    test: Callable[[Context], tuple[bool, str]]
    needs: tuple[Need, ...] = ()


def not_run(names: list[str], why: str) -> list[Result]:
    return [Result(name, None, why) for name in names]


def run_table(checks: tuple[Check, ...], ctx: Context, unreachable: str) -> list[Result]:
    """Each check in order; an HTTP error is a failed check whose detail says what was unreachable."""
    results: list[Result] = []
    for index, check in enumerate(checks):
        unmet = next((need.why for need in check.needs if not need.met(ctx)), None)
        if unmet is not None:
            results.append(Result(check.name, None, unmet))
            continue
        try:
            ok, detail = check.test(ctx)
        except HttpError as error:
            ok, detail = False, str(error)
        results.append(Result(check.name, ok, detail, "" if ok else check.fix(ctx)))
        if index == 0 and not ok:
            return results + not_run([c.name for c in checks[1:]], unreachable)
    return results


def names(checks: tuple[Check, ...]) -> list[str]:
    return [c.name for c in checks]


def fixed(text: str) -> Callable[[Context], str]:
    return lambda ctx: text


# --- Ray Dashboard ------------------------------------------------------------------------------

def _ray_reachable(ctx: Context) -> tuple[bool, str]:
    reply = ctx.http.get(f"{ctx.url}/nodes?view=summary", bearer=ctx.ray_token)
    if reply.status in (401, 403):
        given = "refuses the token given" if ctx.ray_token else "wants Ray's token"
        return False, (f"the Ray Dashboard {given} (token authentication): the stack's rayAuthToken output, "
                       "or --ray-token-file")
    if reply.status >= 400:
        raise HttpError(f"{ctx.url}/nodes: HTTP {reply.status}")
    nodes = reply.json()["data"]["summary"]
    ctx.findings.alive_nodes = sorted(
        f"{n['raylet']['nodeManagerAddress']}:{n['raylet']['metricsExportPort']}" for n in nodes
        if n.get("raylet", {}).get("state") == "ALIVE")
    return True, f"{len(ctx.findings.alive_nodes)} Ray node(s) alive: {', '.join(ctx.findings.alive_nodes)}"


def _ray_prometheus_health(ctx: Context) -> tuple[bool, str]:
    reply = ctx.http.json(f"{ctx.url}/api/prometheus_health", allow_error=True, bearer=ctx.ray_token)
    if reply.get("result") is True:
        return True, "the head's RAY_PROMETHEUS_HOST answers queries"
    reason = reply.get("msg", "")
    detail = reply.get("data", {}).get("reason") or reply.get("data", {}).get("status") or ""
    where = ("Prometheus itself answers the doctor, so the head's RAY_PROMETHEUS_HOST is wrong or "
             "cannot reach it" if ctx.findings.prometheus_reachable else "Prometheus does not answer")
    return False, f"{reason} {detail}".strip() + f"; {where}"


def _grafana_reply(ctx: Context) -> dict:
    return ctx.once("grafana_health", lambda: ctx.http.json(f"{ctx.url}/api/grafana_health", allow_error=True,
                                                            bearer=ctx.ray_token))


def _ray_grafana_health(ctx: Context) -> tuple[bool, str]:
    reply = _grafana_reply(ctx)
    if reply.get("result") is True:
        return True, "the head's RAY_GRAFANA_HOST is healthy"
    return False, " ".join(str(v) for v in (reply.get("msg"), reply.get("data")) if v)


def _ray_environment(ctx: Context) -> tuple[bool, str]:
    data = _grafana_reply(ctx).get("data", {})
    reported = {
        "RAY_GRAFANA_IFRAME_HOST": data.get("grafanaHost", data.get("grafana_host")),
        "RAY_PROMETHEUS_NAME": data.get("dashboardDatasource", data.get("dashboard_datasource")),
    }
    expected = {"RAY_GRAFANA_IFRAME_HOST": ctx.exp.iframe_host, "RAY_PROMETHEUS_NAME": ctx.exp.datasource_name}
    differ = [f"{k} is {reported[k]!r}, the stack set {v!r}" for k, v in expected.items()
              if v is not None and (reported[k] or "").rstrip("/") != v.rstrip("/")]
    uids = data.get("dashboardUids", data.get("dashboard_uids")) or {}
    missing = [uid for uid in uids.values() if ctx.exp.dashboard_uids and uid not in ctx.exp.dashboard_uids]
    if missing:
        differ.append(f"it links to dashboard uids Grafana does not serve: {', '.join(missing)}")
    if differ:
        return False, "the head still runs another environment: " + "; ".join(differ)
    return True, "iframe host, datasource name and dashboard uids as the stack set them"


def _launched_nodes_joined(ctx: Context) -> tuple[bool, str]:
    alive, launched = len(ctx.findings.alive_nodes or []), ctx.exp.launched_nodes
    if alive < (launched or 0):
        return False, (f"Ray reports {alive} node(s) alive; the stack launched {launched} (the head and the "
                       "workers' group's desired count): a worker that cannot join shuts down and is replaced")
    return True, f"{alive} node(s) alive, {launched} launched"


RAY_TABLE = (
    Check("Ray Dashboard reachable",
          fixed("is the head running? kubectl get pods -l ray.io/node-type=head -A (EC2: ssh to the head, docker "
                "compose ps); check the Ray Dashboard URL or port-forward"), _ray_reachable),
    Check("every launched node joined Ray", lambda ctx: ctx.exp.launched_fix, _launched_nodes_joined,
          needs=(Need(lambda ctx: ctx.exp.launched_nodes is not None,
                      "the stack launches no nodes of its own (Kubernetes: KubeRay does)"),)),
    Check("Ray head reaches Prometheus",
          lambda ctx: f"if Prometheus is up, the head runs an old RAY_PROMETHEUS_HOST: {ctx.restart}",
          _ray_prometheus_health),
    Check("Ray head reaches Grafana",
          lambda ctx: "check Grafana's checks below; if Grafana is healthy, the head runs an old "
          f"RAY_GRAFANA_HOST: {ctx.restart}", _ray_grafana_health),
    Check("Ray head runs the stack's environment", lambda ctx: ctx.restart, _ray_environment,
          needs=(Need(lambda ctx: _grafana_reply(ctx).get("result") is True,
                      "the head reports its environment only when Grafana is healthy"),)),
)
RAY_CHECKS = names(RAY_TABLE)


def ray_dashboard(http: Http, url: str, exp: Expectations, findings: Findings,
                  ray_token: str | None = None) -> list[Result]:
    return run_table(RAY_TABLE, Context(http, url, exp, findings, ray_token=ray_token),
                     "the Ray Dashboard is unreachable")


# --- Prometheus ---------------------------------------------------------------------------------

# Samples reach a healthy store within a batch deadline (5 s) and a scrape; this much lag means it is away.
REMOTE_WRITE_LAG_SECONDS = 30
RELOAD_FIX = "Prometheus' log names the bad line; pulumi up again to restore the stack's configuration"
REMOTE_WRITE_FIX = ("Prometheus' log names each failing store (\"remote_write\"): check its URL and credentials "
                    "(remoteWrite), and that the store accepts this much traffic. Samples wait in the write-ahead "
                    "log (about 2 h) and are sent when the store answers")


def _metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus' own /metrics (text format): (name, labels, value) of every sample."""
    samples = []
    for line in text.splitlines():
        match = re.match(r'^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)', line)
        if match and not line.startswith("#"):
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
            samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def remote_write_health(metrics_text: str) -> tuple[bool, str]:
    """Every remote_write queue sends recent samples and the store refused none."""
    samples = _metrics(metrics_text)
    newest = max((v for n, _, v in samples if n == "prometheus_remote_storage_highest_timestamp_in_seconds"),
                 default=0)
    sent = {labels.get("remote_name", "?"): (labels.get("url", "?"), v) for n, labels, v in samples
            if n == "prometheus_remote_storage_queue_highest_sent_timestamp_seconds"}
    failed = {labels.get("remote_name", "?"): v for n, labels, v in samples
              if n == "prometheus_remote_storage_samples_failed_total"}
    if not sent:
        return False, "no remote_write queue: the configuration lacks the stores (pulumi up again)"
    problems = []
    for name, (url, last) in sorted(sent.items()):
        if last == 0:
            problems.append(f"{url}: nothing sent yet")
        elif newest - last > REMOTE_WRITE_LAG_SECONDS:
            problems.append(f"{url}: {newest - last:.0f} s behind")
        if failed.get(name):
            problems.append(f"{url}: refused {failed[name]:.0f} samples")
    if problems:
        return False, "; ".join(problems)
    return True, f"{len(sent)} store(s), each within {REMOTE_WRITE_LAG_SECONDS} s"


def _prometheus_ready(ctx: Context) -> tuple[bool, str]:
    ctx.findings.prometheus_reachable = ctx.http.get(f"{ctx.url}/-/ready").status == 200
    return ctx.findings.prometheus_reachable, "ready"


def _reload(ctx: Context) -> tuple[bool, str]:
    if ctx.exp.prometheus_agent:
        # An agent answers no API queries: its own metrics say whether the last reload worked.
        samples = {n: v for n, _, v in _metrics(ctx.http.get(f"{ctx.url}/metrics").body.decode())}
        ok = samples.get("prometheus_config_last_reload_successful") == 1
        return ok, "last reload successful" if ok else "the last configuration reload failed"
    info = ctx.http.json(f"{ctx.url}/api/v1/status/runtimeinfo")["data"]
    return info.get("reloadConfigSuccess") is True, f"last reload at {info.get('lastConfigTime', '?')}"


def _rules(ctx: Context) -> tuple[bool, str]:
    groups = ctx.http.json(f"{ctx.url}/api/v1/rules")["data"]["groups"]
    loaded = {g["name"] for g in groups}
    missing = [g for g in ctx.exp.rule_groups if g not in loaded]
    unhealthy = [r["name"] for g in groups for r in g["rules"] if r.get("health") == "err"]
    if missing:
        return False, f"rule group(s) {', '.join(missing)} not loaded (loaded: {sorted(loaded) or 'none'})"
    if unhealthy:
        return False, f"rules failing to evaluate: {', '.join(unhealthy)}"
    # Before its first evaluation a group's recorded series do not exist: the panels reading them are empty.
    waiting = [g["name"] for g in groups if g["name"] in ctx.exp.rule_groups
               and g.get("lastEvaluation", "").startswith("0001-")]
    if waiting:
        return False, (f"rule group(s) {', '.join(waiting)} not evaluated yet: the panels that read their recorded "
                       "series stay empty until the first evaluation (one evaluation interval after Prometheus starts)")
    return True, f"{sum(len(g['rules']) for g in groups)} rules in {sorted(loaded)}"


def _targets(ctx: Context) -> list[dict]:
    return ctx.once("targets", lambda: ctx.http.json(
        f"{ctx.url}/api/v1/targets?state=active")["data"]["activeTargets"])


def _live_nodes(ctx: Context) -> tuple[bool, str]:
    # Each node's current series name it by its `ip` and the port it was scraped on: series of a
    # target that is down or gone are stale at once, so an instant query sees only live ones.
    alive = ctx.findings.alive_nodes or []
    scraped = {f"{s['metric'].get('ip')}:{s['metric'].get('instance', '').rsplit(':', 1)[-1]}"
               for s in ctx.query(RAY_SERIES)}
    missing = [node for node in alive if node not in scraped]
    if missing:
        return False, (f"Ray reports {len(alive)} node(s) alive; no current metrics from "
                       f"{', '.join(missing)}: not discovered, or its target is down")
    return True, f"all {len(alive)} live Ray node(s) scraped"


def _head_endpoints(ctx: Context) -> tuple[bool, str]:
    ports = {t["labels"].get("instance", "").rsplit(":", 1)[-1]: t for t in _targets(ctx)
             if t["labels"].get("job", "").startswith("ray")}
    missing = [p for p in (AUTOSCALER_PORT, DASHBOARD_METRICS_PORT) if p not in ports]
    down = [p for p in (AUTOSCALER_PORT, DASHBOARD_METRICS_PORT) if p in ports and ports[p]["health"] != "up"]
    if missing or down:
        return False, f"head metrics ports not discovered: {missing}; down: {down}"
    return True, "autoscaler (44217) and dashboard (44227) metrics up"


def _others_down(ctx: Context) -> tuple[bool, str]:
    targets = _targets(ctx)
    down = [f"{t['labels'].get('job')} {t['labels'].get('instance')}: {t.get('lastError') or 'down'}"
            for t in targets if t["health"] == "down"]
    if ctx.exp.node_exporter and "node" not in {t["labels"].get("job") for t in targets}:
        down.append("no node_exporter target at all")
    return (not down), ("; ".join(down) if down else f"{len(targets)} targets up")


def _labels(ctx: Context) -> tuple[bool, str]:
    count = int(ctx.value(f"count({RAY_SERIES})") or 0)
    good = int(ctx.value(f'count({RAY_SERIES}{{ray_io_cluster!="", SessionName!=""}})') or 0)
    if count == 0:
        return False, "no Ray series at all"
    return good == count, f"{good} of {count} {RAY_SERIES} series labelled"


def _series(ctx: Context) -> tuple[bool, str]:
    exp, plan = ctx.exp, ctx.exp.planned_series or 0
    current = ctx.value("max(prometheus_tsdb_head_series)")
    if current is None:
        return True, "Prometheus does not scrape itself: not compared"
    if current <= plan:
        return True, f"{current:,.0f} series of {plan:,} planned"
    needed = next(n for n in range(exp.ray_nodes or 1, 100_001)
                  if size(n, exp.scrape_interval, exp.retention_time).series >= current)
    return False, (f"{current:,.0f} series, over the {plan:,} planned for rayNodes {exp.ray_nodes}: "
                   f"{exp.config_hint} rayNodes {needed}")


def _memory(ctx: Context) -> tuple[bool, str]:
    rss = ctx.value('max(process_resident_memory_bytes{job="prometheus"})')
    limit_text = ctx.exp.prometheus_memory_limit or ""
    if rss is None:
        return True, "Prometheus does not scrape itself: not compared"
    share = rss / bytes_of(limit_text)
    return share < 0.8, f"{rss / 2**20:,.0f} MiB of {limit_text} ({share:.0%})"


def _remote_write(ctx: Context) -> tuple[bool, str]:
    return remote_write_health(ctx.http.get(f"{ctx.url}/metrics").body.decode())


# An agent keeps nothing to query: only its reload status and its remote write can be checked here. The
# store's side is checked through Grafana's datasource and the Ray head's own Prometheus check.
QUERYABLE = Need(lambda ctx: not ctx.exp.prometheus_agent,
                 "agent mode: Prometheus keeps nothing to query (Grafana and the Ray head query the store)")
PLANNED = Need(lambda ctx: ctx.exp.planned_series is not None,
               "the stack's sizing plan is unknown (pass --ray-nodes)")

PROMETHEUS_TABLE = (
    Check("Prometheus ready", fixed("kubectl get pods -n monitoring -l app.kubernetes.io/name=prometheus (EC2: "
                                    "docker compose logs prometheus on the head)"), _prometheus_ready),
    Check("Prometheus configuration loaded", fixed(RELOAD_FIX), _reload),
    Check("Ray alert rules loaded", fixed("the rule file is missing from Prometheus' config directory: pulumi up "
                                          "again (it deploys ray-alerts.yml beside prometheus.yml)"), _rules,
          needs=(QUERYABLE,)),
    Check("every live Ray node scraped",
          fixed("Prometheus must discover every Ray node: on Kubernetes the pods need the ray.io/node-type label "
                "in a watched namespace (watchNamespaces); on EC2 Prometheus reads "
                "/tmp/ray/prom_metrics_service_discovery.json every 1 s. Compare /targets with the Ray Dashboard's "
                "cluster page"), _live_nodes,
          needs=(QUERYABLE, Need(lambda ctx: ctx.findings.alive_nodes is not None,
                                 "the Ray Dashboard was not reached, so its live nodes are unknown"))),
    Check("Ray head's autoscaler and dashboard metrics scraped",
          fixed("the head must run `ray start --head --metrics-export-port=8080` and Prometheus must reach ports "
                "44217 and 44227 on it (NetworkPolicies, security groups)"), _head_endpoints, needs=(QUERYABLE,)),
    Check("no other target down", fixed("see each target's error on Prometheus' /targets page"), _others_down,
          needs=(QUERYABLE,)),
    Check("Ray series carry ray_io_cluster and SessionName",
          fixed("Ray's dashboards filter on ray_io_cluster: the scrape configuration adds it; pulumi up again to "
                "restore the stack's configuration"), _labels, needs=(QUERYABLE,)),
    Check("series within the sizing plan",
          fixed("raise rayNodes so memory, disk and retention are sized for it (docs/sizing.md)"), _series,
          needs=(QUERYABLE, PLANNED)),
    Check("memory within its limit",
          lambda ctx: f"above 80% of its limit Prometheus risks an out-of-memory kill: {ctx.exp.config_hint} "
          "rayNodes to the cluster's real size, or prometheusMemoryLimit", _memory,
          needs=(QUERYABLE, PLANNED, Need(lambda ctx: bool(ctx.exp.prometheus_memory_limit),
                                          "the memory limit is unknown"))),
    Check("remote write keeps up", fixed(REMOTE_WRITE_FIX), _remote_write,
          needs=(Need(lambda ctx: ctx.exp.remote_writes > 0, "no remoteWrite configured"),)),
)
PROMETHEUS_CHECKS = names(PROMETHEUS_TABLE)


def prometheus(http: Http, url: str, exp: Expectations, findings: Findings) -> list[Result]:
    return run_table(PROMETHEUS_TABLE, Context(http, url, exp, findings), "Prometheus is unreachable")


# --- Grafana ------------------------------------------------------------------------------------

def _grafana_health(ctx: Context) -> tuple[bool, str]:
    reply = ctx.http.json(f"{ctx.url}/api/health")
    return reply.get("database") == "ok", f"database {reply.get('database')}, version {reply.get('version')}"


def _datasource_name(ctx: Context) -> str:
    return ctx.exp.datasource_name or "Prometheus"


def _datasource(ctx: Context) -> tuple[bool, str]:
    name = _datasource_name(ctx)
    found = ctx.http.get(f"{ctx.url}/api/datasources/name/{quote(name)}", auth=ctx.admin)
    if found.status == 404:
        return False, f"no datasource named {name!r}: the head's RAY_PROMETHEUS_NAME and Grafana disagree"
    uid = found.json()["uid"]
    checked = ctx.http.get(f"{ctx.url}/api/datasources/uid/{quote(uid)}/health", auth=ctx.admin)
    reply = checked.json() if checked.body else {}
    if checked.status != 200 or reply.get("status") != "OK":
        return False, f"datasource {name!r} cannot query Prometheus: {reply.get('message', checked.status)}"
    return True, f"{name!r} ({uid}) connects: {reply.get('message', 'OK')}"


def _anonymous_status(ctx: Context) -> int:
    """The HTTP status of an anonymous GET of one of the dashboards the Ray Dashboard links to."""
    return int(ctx.once("anonymous_status", lambda: ctx.http.get(
        f"{ctx.url}/api/dashboards/uid/{quote(_probe(ctx))}").status))


def _dashboard_reader(ctx: Context) -> tuple[str, str] | None:
    """No credentials where anonymous viewers read dashboards (the stack's Grafana); else the admin."""
    return None if _anonymous_status(ctx) == 200 else ctx.admin


def _dashboards(ctx: Context) -> tuple[bool, str]:
    reader = _dashboard_reader(ctx)
    missing = [uid for uid in ctx.exp.dashboard_uids
               if ctx.http.get(f"{ctx.url}/api/dashboards/uid/{quote(uid)}", auth=reader).status != 200]
    if missing:
        return False, f"missing: {', '.join(missing)}"
    return True, f"{len(ctx.exp.dashboard_uids)} dashboards with the uids the Ray Dashboard links to"


def _probe(ctx: Context) -> str:
    return ctx.exp.dashboard_uids[0] if ctx.exp.dashboard_uids else "rayDefaultDashboard"


def _anonymous(ctx: Context) -> tuple[bool, str]:
    status = _anonymous_status(ctx)
    return status == 200, f"anonymous GET of dashboard {_probe(ctx)}: HTTP {status}"


def _browser_address(ctx: Context) -> tuple[bool, str]:
    """The iframe host answers from this machine: the browser loads the charts from it."""
    host = (ctx.exp.iframe_host or "").rstrip("/")
    reply = ctx.http.json(f"{host}/api/health")
    ctx.fetched["browser_reaches_grafana"] = True
    return reply.get("database") == "ok", f"{host} answers (database {reply.get('database')})"


def _embedding(ctx: Context) -> tuple[bool, str]:
    # Where the browser loads Grafana from: an ingress or proxy there may add its own headers.
    base = ctx.exp.iframe_host.rstrip("/") if ctx.fetched.get("browser_reaches_grafana") else ctx.url
    page = ctx.http.get(f"{base}/d/{quote(_probe(ctx))}")
    frame = page.headers.get("x-frame-options", "")
    if frame.upper() in ("DENY", "SAMEORIGIN"):
        return False, (f"{base} sends X-Frame-Options: {frame}: browsers refuse to show Grafana inside the "
                       "Ray Dashboard")
    policy = page.headers.get("content-security-policy", "")
    if re.search(r"frame-ancestors\s+'none'", policy):
        return False, f"{base} sends a Content-Security-Policy that forbids framing: {policy}"
    return True, f"no header from {base} forbids framing"


GRAFANA_TABLE = (
    Check("Grafana healthy", fixed("kubectl logs -n monitoring deploy/grafana (EC2: docker compose logs grafana "
                                   "on the head)"), _grafana_health),
    Check("datasource exists and connects",
          lambda ctx: f"datasourceName must equal the datasource Grafana provisions ({ctx.exp.config_hint} "
          f"datasourceName {_datasource_name(ctx)}); pulumi up again", _datasource,
          needs=(Need(lambda ctx: ctx.admin is not None, "needs the admin password (--grafana-password-file)"),)),
    Check("Ray's dashboards provisioned", fixed("pulumi up again: it provisions every dashboard in dashboards/"),
          _dashboards, needs=(Need(lambda ctx: bool(ctx.exp.dashboard_uids), "no dashboard uids to look for"),)),
    Check("anonymous viewers can read dashboards",
          fixed("grafana.ini needs [auth.anonymous] enabled = true, org_role = Viewer (this stack's Grafana has "
                "it; another Grafana needs it set)"), _anonymous),
    Check("the browser's Grafana address answers",
          fixed("the Ray Dashboard's charts load from RAY_GRAFANA_IFRAME_HOST in your browser: run the port-forward "
                "the stack prints (pulumi stack output grafanaPortForward), or set grafanaIframeHost to an address "
                "your browser reaches and pulumi up"), _browser_address,
          needs=(Need(lambda ctx: bool(ctx.exp.iframe_host), "the iframe host is unknown (--expect-iframe-host)"),)),
    Check("embedding allowed", fixed("grafana.ini needs [security] allow_embedding = true, and no proxy or ingress "
                                     "in front of Grafana may add X-Frame-Options or frame-ancestors"), _embedding),
)
GRAFANA_CHECKS = names(GRAFANA_TABLE)


def grafana(http: Http, url: str, password: str | None, exp: Expectations) -> list[Result]:
    return run_table(GRAFANA_TABLE, Context(http, url, exp, Findings(), password),
                     "Grafana is unhealthy or unreachable")
