"""The overview dashboard and the alert rules: real metric names, PromQL that parses, rules that fire
when they should (promtool test rules), a dashboard that type-checks against Grafana's schema."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import yaml
from conftest import PROJECT_ROOT

from components import alert_rules, overview_dashboard
from components.alert_rules import AlertSettings
from components.grafana_config import load_dashboards

METRIC_NAMES = {line for line in (PROJECT_ROOT / "tests/data/ray-2.60.0-metric-names.txt").read_text().split()
                if not line.startswith("#")} - {"#"}
PROMETHEUS_OWN = {"up"}
SCHEMA_DIR = PROJECT_ROOT / "tests" / "node-tools"
PROMQL_WORDS = {"sum", "by", "max", "min", "rate", "increase", "absent", "on", "without", "and", "or",
                "unless", "count", "avg", "humanize", "bool"}


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: tests/run installs Debian's prometheus"
    return path


def metric_names(expr: str) -> set[str]:
    """Identifiers followed by a selector or a range, minus PromQL functions and label names."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "{}", without_strings)
    without_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_labels)
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", without_groupings))
    return {n for n in names if n not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]?", n)}


def all_expressions() -> dict[str, str]:
    found = {f"overview: {k}": overview_dashboard.substitute(v) for k, v in overview_dashboard.expressions().items()}
    found.update({f"rule: {k}": v for k, v in alert_rules.expressions(AlertSettings()).items()})
    return found


def test_only_real_metric_names():
    assert len(METRIC_NAMES) > 150
    for name, expr in all_expressions().items():
        unknown = metric_names(expr) - METRIC_NAMES - PROMETHEUS_OWN
        assert not unknown, f"{name} uses metrics Ray 2.60 does not export: {unknown}"


def test_metric_name_check_can_fail():
    assert metric_names('sum by (State) (ray_tasks_total{State="X"})') == {"ray_tasks_total"}
    assert "ray_tasks_total" not in METRIC_NAMES and "ray_actors_alive" not in METRIC_NAMES


def test_every_expression_parses(tmp_path):
    groups = [{"name": "parse", "rules": [{"record": f"check:{i}", "expr": expr}
                                          for i, expr in enumerate(all_expressions().values())]}]
    path = tmp_path / "parse.yml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "a:b", "expr": "sum by (("}]}]}))
    assert subprocess.run([promtool(), "check", "rules", str(broken)], capture_output=True,
                          timeout=60).returncode != 0


def test_overview_is_committed_as_built():
    committed = (PROJECT_ROOT / "dashboards" / "ray-monitoring" / "overview.json").read_text()
    assert committed == overview_dashboard.render(), "run venv/bin/python dashboards/regenerate.py"
    board = json.loads(committed)
    assert board["uid"] == "rayMonitoringOverview"
    names = [v["name"] for v in board["templating"]["list"]]
    assert names == ["datasource", "Cluster", "SessionName", "Instance"]
    assert all(p["datasource"] == {"type": "prometheus", "uid": "${datasource}"} for p in board["panels"])
    assert all(p["fieldConfig"]["defaults"]["unit"] for p in board["panels"])
    titles = {p["title"] for p in board["panels"]}
    assert {"CPU utilisation per node", "Tasks by state", "Actors by state", "Scrape health"} <= titles
    actors = next(p for p in board["panels"] if p["title"] == "Actors by state")
    assert 'Source="gcs"' in actors["targets"][0]["expr"], "actors must not be double counted"


def test_panels_do_not_overlap():
    occupied = set()
    for panel in json.loads(overview_dashboard.render())["panels"]:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24
        cells = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells


def tsc(tmp_dashboards: dict[str, str]) -> subprocess.CompletedProcess:
    binary = SCHEMA_DIR / "node_modules" / ".bin" / "tsc"
    assert binary.exists(), "npm ci --prefix tests/node-tools (tests/run does)"
    checked = SCHEMA_DIR / "checked"
    shutil.rmtree(checked, ignore_errors=True)
    checked.mkdir()
    for name, content in tmp_dashboards.items():
        (checked / f"{name}.ts").write_text(
            "import type { Dashboard } from '@grafana/schema';\n"
            # JSON holds an enum's string value, never the TypeScript enum member: compare with those.
            "type Json<T> = T extends string ? `${T}` : T extends (infer U)[] ? Json<U>[]\n"
            "  : T extends object ? { [K in keyof T]: Json<T[K]> } : T;\n"
            f"export const dashboard = ({content.rstrip()}) satisfies Json<Dashboard>;\n")
    return subprocess.run([str(binary), "-p", str(SCHEMA_DIR)], capture_output=True, text=True, timeout=300)


def test_own_dashboards_type_check_against_grafana_schema():
    own = {d.slug: d.content for d in load_dashboards() if not d.relative_path.startswith("ray/")}
    assert own, "the project ships its own dashboards"
    result = tsc(own)
    assert result.returncode == 0, result.stdout
    broken = json.loads(own["ray-monitoring-overview"])
    broken["panels"][0]["gridPos"]["w"] = "wide"
    broken["graphTooltip"] = True
    broken["panelz"] = []
    result = tsc({"broken": json.dumps(broken)})
    assert result.returncode != 0 and "broken.ts" in result.stdout


# --- promtool test rules: every rule fires when it should and stays quiet otherwise --------------

def series(name: str, labels: dict[str, str], values: str) -> dict:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


NODE = {"ray_io_cluster": "c1", "instance": "10.0.0.1:8080"}


def rule_cases(s: AlertSettings) -> list[dict]:
    """One promtool test per rule and outcome: (name, input series, eval time, expected alerts)."""
    full, fine = "95", "50"
    return [
        {"name": "target down fires", "alert": "RayScrapeTargetDown", "at": "5m",
         "input": [series("up", {"job": "ray", **NODE}, "0x10")],
         "expected": [{"job": "ray", **NODE, "severity": "warning"}],
         "description": "ray target 10.0.0.1:8080 of cluster c1 has been down for 2m."},
        {"name": "target up is quiet", "alert": "RayScrapeTargetDown", "at": "5m",
         "input": [series("up", {"job": "ray", **NODE}, "1x10")], "expected": []},
        {"name": "head missing fires", "alert": "RayHeadMetricsMissing", "at": "10m",
         "input": [series("up", {"job": "ray", **NODE}, "1x20")], "expected": [{"severity": "critical"}],
         "description": "ray_cluster_active_nodes (exported by the Ray head) is absent: the head is down or "
                        "not scraped."},
        {"name": "head present is quiet", "alert": "RayHeadMetricsMissing", "at": "10m",
         "input": [series("ray_cluster_active_nodes", {"ray_io_cluster": "c1"}, "1x20")], "expected": []},
        {"name": "object store full fires", "alert": "RayObjectStoreFull", "at": "10m",
         "input": [series("ray_object_store_used_memory", NODE, f"{full}x20"),
                   series("ray_object_store_available_memory", NODE, f"{100 - int(full)}x20")],
         "expected": [{**NODE, "severity": "warning"}],
         "description": "Object store on 10.0.0.1:8080 is 95% full (threshold 90%): objects will spill to disk."},
        {"name": "object store fine is quiet", "alert": "RayObjectStoreFull", "at": "10m",
         "input": [series("ray_object_store_used_memory", NODE, f"{fine}x20"),
                   series("ray_object_store_available_memory", NODE, f"{100 - int(fine)}x20")], "expected": []},
        {"name": "failed tasks fire", "alert": "RayFailedTasksRising", "at": "10m",
         "input": [series("ray_tasks", {"State": "FAILED", "ray_io_cluster": "c1"},
                          f"0+{s.failed_tasks}x20")],
         "expected": [{"ray_io_cluster": "c1", "severity": "warning"}],
         "description": "200 tasks failed in the last 10m on cluster c1 (threshold 10)."},
        {"name": "few failed tasks are quiet", "alert": "RayFailedTasksRising", "at": "10m",
         "input": [series("ray_tasks", {"State": "FAILED", "ray_io_cluster": "c1"}, "0+0.1x20")],
         "expected": []},
        {"name": "node memory fires", "alert": "RayNodeMemoryHigh", "at": "10m",
         "input": [series("ray_node_mem_used", NODE, f"{full}x20"), series("ray_node_mem_total", NODE, "100x20")],
         "expected": [{**NODE, "severity": "warning"}],
         "description": "Node 10.0.0.1:8080 uses 95% of its memory (threshold 90%): Ray's OOM killer will start "
                        "killing workers."},
        {"name": "node memory fine is quiet", "alert": "RayNodeMemoryHigh", "at": "10m",
         "input": [series("ray_node_mem_used", NODE, f"{fine}x20"), series("ray_node_mem_total", NODE, "100x20")],
         "expected": []},
        {"name": "scrape failing fires", "alert": "PrometheusScrapeFailing", "at": "10m",
         "input": [series("up", {"job": "node", "instance": "10.0.0.1:9100"}, "0x20")],
         "expected": [{"job": "node", "instance": "10.0.0.1:9100", "severity": "warning"}],
         "description": "node target 10.0.0.1:9100 has failed every scrape for 5m."},
        {"name": "ray targets are not double-reported", "alert": "PrometheusScrapeFailing", "at": "10m",
         "input": [series("up", {"job": "ray", **NODE}, "0x20")], "expected": []},
    ]


def test_promtool_rule_unit_tests(tmp_path):
    settings = AlertSettings()
    rules_path = tmp_path / alert_rules.FILE_NAME
    rules_path.write_text(alert_rules.render(settings))
    checked = subprocess.run([promtool(), "check", "rules", str(rules_path)], capture_output=True, text=True,
                             timeout=60)
    assert checked.returncode == 0 and "SUCCESS: 6 rules found" in checked.stdout, checked.stdout + checked.stderr
    cases = rule_cases(settings)
    assert {c["alert"] for c in cases} == set(alert_rules.expressions(settings)), "every rule has cases"
    summaries = {r["alert"]: r["annotations"]["summary"] for r in alert_rules.rules(settings)["groups"][0]["rules"]}
    tests = []
    for case in cases:
        tests.append({
            "interval": "30s",
            "input_series": case["input"],
            "alert_rule_test": [{"eval_time": case["at"], "alertname": case["alert"],
                                 "exp_alerts": [{"exp_labels": labels,
                                                "exp_annotations": {"summary": summaries[case["alert"]],
                                                                    "description": case["description"]}}
                                               for labels in case["expected"]]}],
        })
    test_file = tmp_path / "tests.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": [str(rules_path)], "evaluation_interval": "30s",
                                         "tests": tests}))
    result = subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_both_stacks_load_the_rules(minikube, aws):
    data = minikube.one("kubernetes:core/v1:ConfigMap", "prometheus-config").plain["data"]
    assert data[alert_rules.FILE_NAME] == alert_rules.render(AlertSettings())
    assert yaml.safe_load(data["prometheus.yml"])["rule_files"] == ["/etc/prometheus/ray-alerts.yml"]
    assert aws.written()["/opt/ray-monitoring/prometheus/ray-alerts.yml"] == alert_rules.render(AlertSettings())


def test_alert_settings_reach_the_rules():
    from conftest import run_stack

    result = run_stack("minikube", alertObjectStorePercent="75", alertFor="15m")
    assert result.error is None, result.error
    rules = yaml.safe_load(result.one("kubernetes:core/v1:ConfigMap", "prometheus-config").plain["data"][
        alert_rules.FILE_NAME])["groups"][0]["rules"]
    full = next(r for r in rules if r["alert"] == "RayObjectStoreFull")
    assert full["expr"].endswith("> 75") and full["for"] == "15m"


def test_both_stacks_deploy_every_dashboard(minikube, aws):
    dashboards = load_dashboards()
    keys = {r.plain["key"] for r in aws.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    assert keys == {f"dashboards/{d.file_name}" for d in dashboards}
    maps = {r.name for r in minikube.of_type("kubernetes:core/v1:ConfigMap")}
    assert {f"grafana-dashboard-{d.slug}" for d in dashboards} <= maps
    assert "grafana-dashboard-ray-monitoring-overview" in maps
