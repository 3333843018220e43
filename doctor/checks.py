"""The doctor's checks: one Result per check, each failure with its cause and its fix.

They only read HTTP APIs (Prometheus, the Ray Dashboard, Grafana) through the `Http` they are given,
so the same code runs against a deployed stack and against the live tests' real processes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote, urlencode

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
    rule_groups: tuple[str, ...] = ("ray",)
    ray_nodes: int | None = None  # the sizing plan (rayNodes)
    scrape_interval: str = "5s"
    retention_time: str = "15d"
    prometheus_memory_limit: str | None = None
    node_exporter: bool = False  # EC2: node_exporter beside every Ray node
    restart_command: str = ""  # recreates the Ray head so it reads its environment again
    remote_writes: int = 0  # stores Prometheus writes to (remoteWrite, managedPrometheus)
    prometheus_agent: bool = False  # agent mode: nothing to query locally
    config_hint: str = "pulumi config set"  # how the user changes a setting of this stack

    @property
    def planned_series(self) -> int | None:
        return size(self.ray_nodes, self.scrape_interval, self.retention_time).series if self.ray_nodes else None


@dataclass
class Findings:
    """What one check learns that a later one needs (the Ray Dashboard's live nodes)."""

    alive_nodes: list[str] | None = None  # "ip:metrics port" of every node Ray reports alive
    prometheus_reachable: bool | None = None


def not_run(names: list[str], why: str) -> list[Result]:
    return [Result(name, None, why) for name in names]


def _attempt(results: list[Result], check: str, fix: str, test: Callable[[], tuple[bool, str]]) -> bool:
    """Runs one check; an HTTP error is a failed check whose detail says what was unreachable."""
    try:
        ok, detail = test()
    except HttpError as error:
        ok, detail = False, str(error)
    results.append(Result(check, ok, detail, "" if ok else fix))
    return ok


# --- Ray Dashboard ------------------------------------------------------------------------------

RAY_CHECKS = ["Ray Dashboard reachable", "Ray head reaches Prometheus", "Ray head reaches Grafana",
              "Ray head runs the stack's environment"]


def ray_dashboard(http: Http, url: str, exp: Expectations, findings: Findings) -> list[Result]:
    results: list[Result] = []
    restart = exp.restart_command or "restart the Ray head"

    def reachable():
        nodes = http.json(f"{url}/nodes?view=summary")["data"]["summary"]
        findings.alive_nodes = sorted(
            f"{n['raylet']['nodeManagerAddress']}:{n['raylet']['metricsExportPort']}" for n in nodes
            if n.get("raylet", {}).get("state") == "ALIVE")
        return True, f"{len(findings.alive_nodes)} Ray node(s) alive: {', '.join(findings.alive_nodes)}"

    if not _attempt(results, RAY_CHECKS[0], "is the head running? kubectl get pods -l ray.io/node-type=head -A "
                    "(EC2: ssh to the head, docker compose ps); check the Ray Dashboard URL or port-forward",
                    reachable):
        return results + not_run(RAY_CHECKS[1:], "the Ray Dashboard is unreachable")

    def prometheus_health():
        reply = http.json(f"{url}/api/prometheus_health", allow_error=True)
        if reply.get("result") is True:
            return True, "the head's RAY_PROMETHEUS_HOST answers queries"
        reason = reply.get("msg", "")
        detail = reply.get("data", {}).get("reason") or reply.get("data", {}).get("status") or ""
        where = ("Prometheus itself answers the doctor, so the head's RAY_PROMETHEUS_HOST is wrong or "
                 "cannot reach it" if findings.prometheus_reachable else "Prometheus does not answer")
        return False, f"{reason} {detail}".strip() + f"; {where}"

    _attempt(results, RAY_CHECKS[1], f"if Prometheus is up, the head runs an old RAY_PROMETHEUS_HOST: {restart}",
             prometheus_health)

    grafana_reply: dict = {}

    def grafana_health():
        grafana_reply.update(http.json(f"{url}/api/grafana_health", allow_error=True))
        if grafana_reply.get("result") is True:
            return True, "the head's RAY_GRAFANA_HOST is healthy"
        return False, " ".join(str(v) for v in (grafana_reply.get("msg"), grafana_reply.get("data")) if v)

    grafana_ok = _attempt(results, RAY_CHECKS[2], "check Grafana's checks below; if Grafana is healthy, the head "
                          f"runs an old RAY_GRAFANA_HOST: {restart}", grafana_health)

    if not grafana_ok:
        results.append(Result(RAY_CHECKS[3], None, "the head reports its environment only when Grafana is healthy"))
        return results

    def environment():
        data = grafana_reply.get("data", {})
        reported = {
            "RAY_GRAFANA_IFRAME_HOST": data.get("grafanaHost", data.get("grafana_host")),
            "RAY_PROMETHEUS_NAME": data.get("dashboardDatasource", data.get("dashboard_datasource")),
        }
        expected = {"RAY_GRAFANA_IFRAME_HOST": exp.iframe_host, "RAY_PROMETHEUS_NAME": exp.datasource_name}
        differ = [f"{k} is {reported[k]!r}, the stack set {v!r}" for k, v in expected.items()
                  if v is not None and (reported[k] or "").rstrip("/") != v.rstrip("/")]
        uids = data.get("dashboardUids", data.get("dashboard_uids")) or {}
        missing = [uid for uid in uids.values() if exp.dashboard_uids and uid not in exp.dashboard_uids]
        if missing:
            differ.append(f"it links to dashboard uids Grafana does not serve: {', '.join(missing)}")
        if differ:
            return False, "the head still runs another environment: " + "; ".join(differ)
        return True, "iframe host, datasource name and dashboard uids as the stack set them"

    _attempt(results, RAY_CHECKS[3], restart, environment)
    return results


# --- Prometheus ---------------------------------------------------------------------------------

PROMETHEUS_CHECKS = ["Prometheus ready", "Prometheus configuration loaded", "Ray alert rules loaded",
                     "every live Ray node scraped", "Ray head's autoscaler and dashboard metrics scraped",
                     "no other target down", "Ray series carry ray_io_cluster and SessionName",
                     "series within the sizing plan", "memory within its limit", "remote write keeps up"]
# Samples reach a healthy store within a batch deadline (5 s) and a scrape; this much lag means it is away.
REMOTE_WRITE_LAG_SECONDS = 30
AGENT_CHECKS = (0, 1, 9)  # what an agent answers: ready, configuration, its remote write


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


def prometheus(http: Http, url: str, exp: Expectations, findings: Findings) -> list[Result]:
    results: list[Result] = []
    if not _attempt(results, PROMETHEUS_CHECKS[0], "kubectl get pods -n monitoring -l app.kubernetes.io/name="
                    "prometheus (EC2: docker compose logs prometheus on the head)",
                    lambda: (http.get(f"{url}/-/ready").status == 200, "ready")):
        findings.prometheus_reachable = False
        return results + not_run(PROMETHEUS_CHECKS[1:], "Prometheus is unreachable")
    findings.prometheus_reachable = True
    if exp.prometheus_agent:
        return _agent(http, url, exp, results)

    def query(expr: str) -> list[dict]:
        return http.json(f"{url}/api/v1/query?" + urlencode({"query": expr}))["data"]["result"]

    def reload():
        info = http.json(f"{url}/api/v1/status/runtimeinfo")["data"]
        return info.get("reloadConfigSuccess") is True, f"last reload at {info.get('lastConfigTime', '?')}"

    _attempt(results, PROMETHEUS_CHECKS[1], RELOAD_FIX, reload)

    def rules():
        groups = http.json(f"{url}/api/v1/rules")["data"]["groups"]
        loaded = {g["name"] for g in groups}
        missing = [g for g in exp.rule_groups if g not in loaded]
        unhealthy = [r["name"] for g in groups for r in g["rules"] if r.get("health") == "err"]
        if missing:
            return False, f"rule group(s) {', '.join(missing)} not loaded (loaded: {sorted(loaded) or 'none'})"
        if unhealthy:
            return False, f"rules failing to evaluate: {', '.join(unhealthy)}"
        return True, f"{sum(len(g['rules']) for g in groups)} rules in {sorted(loaded)}"

    _attempt(results, PROMETHEUS_CHECKS[2], "the rule file is missing from Prometheus' config directory: "
             "pulumi up again (it deploys ray-alerts.yml beside prometheus.yml)", rules)

    targets = http.json(f"{url}/api/v1/targets?state=active")["data"]["activeTargets"]

    def live_nodes():
        # Each node's current series name it by its `ip` and the port it was scraped on: series of a
        # target that is down or gone are stale at once, so an instant query sees only live ones.
        scraped = {f"{s['metric'].get('ip')}:{s['metric'].get('instance', '').rsplit(':', 1)[-1]}"
                   for s in query(RAY_SERIES)}
        missing = [node for node in findings.alive_nodes if node not in scraped]
        if missing:
            return False, (f"Ray reports {len(findings.alive_nodes)} node(s) alive; no current metrics from "
                           f"{', '.join(missing)}: not discovered, or its target is down")
        return True, f"all {len(findings.alive_nodes)} live Ray node(s) scraped"

    live = Result(PROMETHEUS_CHECKS[3], None)
    if findings.alive_nodes is None:
        live.detail = "the Ray Dashboard was not reached, so its live nodes are unknown"
        results.append(live)
    else:
        _attempt(results, PROMETHEUS_CHECKS[3], "Prometheus must discover every Ray node: on Kubernetes the pods "
                 "need the ray.io/node-type label in a watched namespace (watchNamespaces); on EC2 Prometheus "
                 "reads /tmp/ray/prom_metrics_service_discovery.json every 1 s. Compare /targets with the Ray "
                 "Dashboard's cluster page", live_nodes)

    def head_endpoints():
        ports = {t["labels"].get("instance", "").rsplit(":", 1)[-1]: t for t in targets
                 if t["labels"].get("job", "").startswith("ray")}
        missing = [p for p in (AUTOSCALER_PORT, DASHBOARD_METRICS_PORT) if p not in ports]
        down = [p for p in (AUTOSCALER_PORT, DASHBOARD_METRICS_PORT) if p in ports and ports[p]["health"] != "up"]
        if missing or down:
            return False, f"head metrics ports not discovered: {missing}; down: {down}"
        return True, "autoscaler (44217) and dashboard (44227) metrics up"

    _attempt(results, PROMETHEUS_CHECKS[4], "the head must run `ray start --head --metrics-export-port=8080` and "
             "Prometheus must reach ports 44217 and 44227 on it (NetworkPolicies, security groups)", head_endpoints)

    def others_down():
        down = [f"{t['labels'].get('job')} {t['labels'].get('instance')}: {t.get('lastError') or 'down'}"
                for t in targets if t["health"] == "down"]
        jobs = {t["labels"].get("job") for t in targets}
        if exp.node_exporter and "node" not in jobs:
            down.append("no node_exporter target at all")
        return (not down), ("; ".join(down) if down else f"{len(targets)} targets up")

    _attempt(results, PROMETHEUS_CHECKS[5], "see each target's error on Prometheus' /targets page", others_down)

    def labels():
        total = query(f"count({RAY_SERIES})")
        labelled = query(f'count({RAY_SERIES}{{ray_io_cluster!="", SessionName!=""}})')
        count = int(float(total[0]["value"][1])) if total else 0
        good = int(float(labelled[0]["value"][1])) if labelled else 0
        if count == 0:
            return False, "no Ray series at all"
        return good == count, f"{good} of {count} {RAY_SERIES} series labelled"

    _attempt(results, PROMETHEUS_CHECKS[6], "Ray's dashboards filter on ray_io_cluster: the scrape configuration "
             "adds it; pulumi up again to restore the stack's configuration", labels)

    def own(expr: str) -> float | None:
        found = query(expr)
        return float(found[0]["value"][1]) if found else None

    plan = exp.planned_series
    if plan is None:
        results += not_run(PROMETHEUS_CHECKS[7:9], "the stack's sizing plan is unknown (pass --ray-nodes)")
        return results + _remote_write(http, url, exp)

    def series():
        current = own("max(prometheus_tsdb_head_series)")
        if current is None:
            return True, "Prometheus does not scrape itself: not compared"
        if current <= plan:
            return True, f"{current:,.0f} series of {plan:,} planned"
        needed = next(n for n in range(exp.ray_nodes, 100_001)
                      if size(n, exp.scrape_interval, exp.retention_time).series >= current)
        return False, (f"{current:,.0f} series, over the {plan:,} planned for rayNodes {exp.ray_nodes}: "
                       f"{exp.config_hint} rayNodes {needed}")

    _attempt(results, PROMETHEUS_CHECKS[7], "raise rayNodes so memory, disk and retention are sized for it "
             "(README: Sizing)", series)
    if not exp.prometheus_memory_limit:
        results.append(Result(PROMETHEUS_CHECKS[8], None, "the memory limit is unknown"))
        return results + _remote_write(http, url, exp)

    def memory():
        rss = own('max(process_resident_memory_bytes{job="prometheus"})')
        limit = bytes_of(exp.prometheus_memory_limit)
        if rss is None:
            return True, "Prometheus does not scrape itself: not compared"
        share = rss / limit
        detail = f"{rss / 2**20:,.0f} MiB of {exp.prometheus_memory_limit} ({share:.0%})"
        return share < 0.8, detail

    _attempt(results, PROMETHEUS_CHECKS[8], f"above 80% of its limit Prometheus risks an out-of-memory kill: "
             f"{exp.config_hint} rayNodes to the cluster's real size, or prometheusMemoryLimit", memory)
    return results + _remote_write(http, url, exp)


RELOAD_FIX = "Prometheus' log names the bad line; pulumi up again to restore the stack's configuration"
REMOTE_WRITE_FIX = ("Prometheus' log names each failing store (\"remote_write\"): check its URL and credentials "
                    "(remoteWrite), and that the store accepts this much traffic. Samples wait in the write-ahead "
                    "log (about 2 h) and are sent when the store answers")


def _remote_write(http: Http, url: str, exp: Expectations) -> list[Result]:
    if not exp.remote_writes:
        return not_run(PROMETHEUS_CHECKS[9:], "no remoteWrite configured")
    results: list[Result] = []
    _attempt(results, PROMETHEUS_CHECKS[9], REMOTE_WRITE_FIX,
             lambda: remote_write_health(http.get(f"{url}/metrics").body.decode()))
    return results


def _agent(http: Http, url: str, exp: Expectations, results: list[Result]) -> list[Result]:
    """An agent answers no queries: its reload status and its remote write are what can be checked here.
    The store's side is checked through Grafana's datasource and the Ray head's own Prometheus check."""

    def reload():
        response = http.get(f"{url}/metrics")
        samples = {n: v for n, _, v in _metrics(response.body.decode())}
        ok = samples.get("prometheus_config_last_reload_successful") == 1
        return ok, "last reload successful" if ok else "the last configuration reload failed"

    _attempt(results, PROMETHEUS_CHECKS[1], RELOAD_FIX, reload)
    why = "agent mode: Prometheus keeps nothing to query (Grafana and the Ray head query the store)"
    return results + [Result(name, None, why) for i, name in enumerate(PROMETHEUS_CHECKS)
                      if i not in AGENT_CHECKS] + _remote_write(http, url, exp)


# --- Grafana ------------------------------------------------------------------------------------

GRAFANA_CHECKS = ["Grafana healthy", "datasource exists and connects", "Ray's dashboards provisioned",
                  "anonymous viewers can read dashboards", "embedding allowed"]


def grafana(http: Http, url: str, password: str | None, exp: Expectations) -> list[Result]:
    results: list[Result] = []
    admin = ("admin", password) if password else None

    def health():
        reply = http.json(f"{url}/api/health")
        return reply.get("database") == "ok", f"database {reply.get('database')}, version {reply.get('version')}"

    if not _attempt(results, GRAFANA_CHECKS[0], "kubectl logs -n monitoring deploy/grafana (EC2: docker compose "
                    "logs grafana on the head)", health):
        return results + not_run(GRAFANA_CHECKS[1:], "Grafana is unhealthy or unreachable")

    name = exp.datasource_name or "Prometheus"
    if admin is None:
        results.append(Result(GRAFANA_CHECKS[1], None, "needs the admin password (--grafana-password-file)"))
    else:
        def datasource():
            found = http.get(f"{url}/api/datasources/name/{quote(name)}", auth=admin)
            if found.status == 404:
                return False, f"no datasource named {name!r}: the head's RAY_PROMETHEUS_NAME and Grafana disagree"
            uid = found.json()["uid"]
            checked = http.get(f"{url}/api/datasources/uid/{quote(uid)}/health", auth=admin)
            reply = checked.json() if checked.body else {}
            if checked.status != 200 or reply.get("status") != "OK":
                return False, f"datasource {name!r} cannot query Prometheus: {reply.get('message', checked.status)}"
            return True, f"{name!r} ({uid}) connects: {reply.get('message', 'OK')}"

        _attempt(results, GRAFANA_CHECKS[1], f"datasourceName must equal the datasource Grafana provisions "
                 f"({exp.config_hint} datasourceName {name}); pulumi up again", datasource)

    def dashboards():
        missing = [uid for uid in exp.dashboard_uids
                   if http.get(f"{url}/api/dashboards/uid/{quote(uid)}", auth=admin).status != 200]
        if missing:
            return False, f"missing: {', '.join(missing)}"
        return True, f"{len(exp.dashboard_uids)} dashboards with the uids the Ray Dashboard links to"

    if exp.dashboard_uids:
        _attempt(results, GRAFANA_CHECKS[2], "pulumi up again: it provisions every dashboard in dashboards/",
                 dashboards)
    else:
        results.append(Result(GRAFANA_CHECKS[2], None, "no dashboard uids to look for"))

    probe = exp.dashboard_uids[0] if exp.dashboard_uids else "rayDefaultDashboard"

    def anonymous():
        status = http.get(f"{url}/api/dashboards/uid/{quote(probe)}").status
        return status == 200, f"anonymous GET of dashboard {probe}: HTTP {status}"

    _attempt(results, GRAFANA_CHECKS[3], "grafana.ini needs [auth.anonymous] enabled = true, org_role = Viewer "
             "(this stack's Grafana has it; another Grafana needs it set)", anonymous)

    def embedding():
        page = http.get(f"{url}/d/{quote(probe)}")
        frame = page.headers.get("x-frame-options", "")
        if frame.upper() in ("DENY", "SAMEORIGIN"):
            return False, f"X-Frame-Options: {frame}: browsers refuse to show Grafana inside the Ray Dashboard"
        policy = page.headers.get("content-security-policy", "")
        if re.search(r"frame-ancestors\s+'none'", policy):
            return False, f"Content-Security-Policy forbids framing: {policy}"
        return True, "no header forbids framing"

    _attempt(results, GRAFANA_CHECKS[4], "grafana.ini needs [security] allow_embedding = true", embedding)
    return results


