"""The aws stack's scrape configuration against a real Ray cluster and a real Prometheus."""

from __future__ import annotations

import datetime
import json
import re
import urllib.error
import urllib.request
from pathlib import Path

from components.builders import alert_rules, overview_dashboard, recording_rules
from components.builders.alert_rules import AlertSettings
from components.builders.dashboard_catalogue import load_dashboards, precomputation
from components.versions import RAY_VERSION
from support import recorded_equivalence
from support.live import LOOPBACK, WORKLOAD, http_json, wait_until
from support.promql import DASHBOARD_RULES, as_grafana_sends

# Prometheus' default file_sd refresh is 5 minutes (Ray's shipped prometheus.yml keeps it): a target found
# within a minute was found by this project's 1 s refresh, not by waiting for one. The figures themselves
# are the discovery benchmark's (docs/sizing.md); a bound this wide holds on a loaded machine.
FOUND_WITHOUT_A_REFRESH = 60

# Ray's task gauges follow recent tasks (a state's series goes once no task has been in it for a
# while): the tests that read them run the workload themselves, whatever ran before.

def test_every_target_is_up(live):
    expected = {("ray", f"{LOOPBACK}:{port}") for port in (8080, 8081, 44217, 44227)}
    expected |= {("node", f"{LOOPBACK}:9100"), ("prometheus", "localhost:9090")}

    def all_up() -> bool:
        up = {(t["labels"]["job"], t["labels"]["instance"]) for t in live.prometheus.targets() if t["health"] == "up"}
        return expected <= up

    wait_until(all_up, 30, f"targets {sorted(expected)} up")
    jobs = {(t["labels"]["job"], t["labels"]["instance"]) for t in live.prometheus.targets()}
    assert jobs == expected, f"unexpected targets: {jobs ^ expected}"


def test_ray_series_carry_cluster_and_session(live):
    live.ray.run(WORKLOAD)
    for metric in ("ray_node_cpu_utilization", "ray_tasks", "ray_actors"):
        wait_until(lambda metric=metric: live.prometheus.query(metric), 30, f"{metric} samples")
        series = live.prometheus.query(metric)
        for sample in series:
            labels = sample["metric"]
            assert labels.get("ray_io_cluster") == "ray-cluster", f"{metric} lacks ray_io_cluster: {labels}"
            assert labels.get("SessionName", "").startswith("session_"), f"{metric} lacks SessionName: {labels}"
    nodes = live.prometheus.query('up{job="node"}')
    assert nodes and nodes[0]["metric"]["ray_io_cluster"] == "ray-cluster"


def test_ray_dashboard_reaches_prometheus(live):
    def healthy() -> bool:
        return http_json(f"http://{LOOPBACK}:8265/api/prometheus_health", token=live.token).get("result") is True

    wait_until(healthy, 30, "Ray Dashboard /api/prometheus_health success")


def test_prometheus_started_first_finds_the_head_and_a_joining_worker_without_a_5_minute_refresh(live):
    assert live.head_found_after < FOUND_WITHOUT_A_REFRESH, (
        f"Prometheus (started first) scraped the Ray head {live.head_found_after:.1f} s after it started")
    assert live.worker_found_after < FOUND_WITHOUT_A_REFRESH, (
        f"a joining worker was scraped {live.worker_found_after:.1f} s after it started")
    print(f"head scraped {live.head_found_after:.1f} s, worker {live.worker_found_after:.1f} s after ray start")


def test_every_query_and_rule_evaluates(live):
    expressions = {f"overview {k}": as_grafana_sends(v)
                   for k, v in overview_dashboard.expressions().items()}
    expressions |= {f"rule {k}": v for k, v in alert_rules.expressions(AlertSettings()).items()}
    for expr in expressions.values():
        live.prometheus.query(expr)  # asserts status success
    rules = http_json(f"{live.prometheus.url}/api/v1/rules")["data"]["groups"]
    loaded = {r["name"]: r for group in rules for r in group["rules"]}
    assert set(loaded) == (set(alert_rules.expressions(AlertSettings())) | set(recording_rules.sources())
                           | {r["record"] for r in DASHBOARD_RULES["rules"]})

    def evaluated() -> bool:
        return all(r.get("lastEvaluation", "").startswith("20") for r in loaded_now().values())

    def loaded_now() -> dict:
        groups = http_json(f"{live.prometheus.url}/api/v1/rules")["data"]["groups"]
        return {r["name"]: r for group in groups for r in group["rules"]}

    wait_until(evaluated, 30, "every rule evaluated once")
    for name, rule in loaded_now().items():
        assert rule["health"] == "ok", f"{name}: {rule.get('lastError')}"


def test_core_panels_return_data_after_a_workload(live):
    live.ray.run(WORKLOAD)
    core = [p for p in overview_dashboard.PANELS if p.core]
    assert {p.title for p in core} >= {"CPU utilisation per node", "Memory per node", "Tasks by state",
                                       "Object store used vs capacity"}
    for panel in core:
        for query in panel.queries:
            expr = as_grafana_sends(query.expr)
            wait_until(lambda expr=expr: live.prometheus.query(expr), 30, f"data for {panel.title}: {expr}")
    def counted(state: str, at_least: int) -> bool:  # Ray exports the finished states a little later
        found = live.prometheus.query(f'sum(ray_tasks{{State="{state}"}})')
        return bool(found) and float(found[0]["value"][1]) >= at_least

    wait_until(lambda: counted("FINISHED", 50), 30, "the workload's 50 tasks counted as finished")
    wait_until(lambda: counted("FAILED", 1), 30, "the workload's failing task counted")


def test_rays_dashboards_draw_from_the_recorded_sums_what_they_drew_from_real_rays_series(live):
    """Each rewritten query of the served Ray dashboards against Ray 2.60's own series, at the recording group's
    last evaluation (where the recorded sums and the raw series stand for the same moment): same lines, same
    values, for All and for one node."""
    live.ray.run(WORKLOAD)
    plan = precomputation(RAY_VERSION)
    stored = {Path(d.relative_path).name: d.content for d in load_dashboards() if d.relative_path.startswith("ray/")}
    defaults = {name: recorded_equivalence.all_values(content) for name, content in stored.items()}
    node = re.escape(f"{LOOPBACK}:8080").replace("\\", "\\\\")  # as Grafana writes a chosen node's regex
    pairs = sorted({(t.dashboard, t.original, t.rewritten) for t in plan.targets if t.rewritten != t.original})
    for chosen in ({}, {"Instance": node}):
        # A scrape that began before the evaluation but landed after it can split one comparison: take the
        # next evaluation then (a few tries, each one group interval apart).
        for _ in range(3):
            differ, drawn = _compare(live, pairs, chosen, defaults)
            if not differ:
                break
        assert not differ, f"{len(differ)} queries differ ({chosen or 'All'}), first: {differ[0]}"
        assert drawn >= 20, f"only {drawn} rewritten queries drew anything from a real Ray ({chosen or 'All'})"


def _compare(live, pairs: list[tuple[str, str, str]], chosen: dict[str, str],
             defaults: dict[str, dict[str, str]]) -> tuple[list[str], int]:
    at = _next_evaluation(live, DASHBOARD_RULES["name"])
    differ, drawn = [], 0
    for name, original, rewritten in pairs:
        raw = _lines(live.prometheus.query(recorded_equivalence.sent(original, chosen, defaults[name]), at=at))
        recorded = _lines(live.prometheus.query(recorded_equivalence.sent(rewritten, chosen, defaults[name]), at=at))
        if raw.keys() != recorded.keys() or any(abs(raw[k] - recorded[k]) > 1e-9 * max(1.0, abs(raw[k])) for k in raw):
            differ.append(f"{name}: {original}: Ray's {raw}, recorded {recorded}")
        drawn += bool(raw)
    return differ, drawn


def _next_evaluation(live, group: str) -> float:
    """The time of the group's next evaluation (Unix seconds), once it has happened."""
    def last() -> float:
        groups = http_json(f"{live.prometheus.url}/api/v1/rules")["data"]["groups"]
        (found,) = [g for g in groups if g["name"] == group]
        return datetime.datetime.fromisoformat(found["lastEvaluation"].replace("Z", "+00:00")).timestamp()

    before = last()
    wait_until(lambda: last() > before, 30, f"group {group} evaluated again")
    return last()


def _lines(result: list[dict]) -> dict[str, float]:
    return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1]) for r in result}


def test_no_alert_fires_on_a_healthy_cluster(live):
    alerts = http_json(f"{live.prometheus.url}/api/v1/alerts")["data"]["alerts"]
    firing = [a["labels"]["alertname"] for a in alerts if a["state"] == "firing"]
    assert firing == [], firing


def submit_job(token: str | None) -> int:
    """POST /api/jobs/ (what `ray job submit` sends): the HTTP status."""
    body = json.dumps({"entrypoint": "echo ran-on-the-head"}).encode()
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(f"http://{LOOPBACK}:8265/api/jobs/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 (loopback)
            job = json.loads(reply.read())
            http_json(f"http://{LOOPBACK}:8265/api/jobs/{job['submission_id']}", token=token)
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_the_jobs_api_runs_nothing_without_the_token(live):
    """Measured on Ray 2.60 in token mode (RAY_AUTH_MODE=token, as the stack deploys it): the dashboard's
    API, job submission included, answers 401 without the token and 403 with a wrong one; the metrics
    ports (8080, 44217, 44227) and the dashboard's static page stay open, so every scrape still works."""
    assert submit_job(None) == 401
    assert submit_job("not-the-token") == 403
    assert submit_job(live.token) == 200, "the deployer, with rayAuthToken, still submits jobs"
    for port in (8080, 44217, 44227):
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/metrics", timeout=5) as reply:  # noqa: S310
            assert reply.status == 200, f"metrics on {port} need no token"
