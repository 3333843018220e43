"""The overview dashboard: real metric names, PromQL that parses, committed as built, a layout
without overlaps, and a dashboard that type-checks against Grafana's published schema."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse

import pytest
import yaml

from components.builders import overview_dashboard
from components.builders.dashboard_catalogue import load_dashboards
from components.builders.logs import dashboard as logs_dashboard
from components.builders.logs.collector_config import NAME_FAMILIES
from support.paths import PROJECT_ROOT
from support.promql import (
    METRIC_NAMES,
    as_grafana_sends,
    assert_expressions_parse,
    assert_real_metric_names,
    metric_names,
)
from support.tools import node_tool, promtool

SCHEMA_DIR = PROJECT_ROOT / "tests" / "node-tools"


def overview_expressions() -> dict[str, str]:
    return {f"overview: {k}": as_grafana_sends(v) for k, v in overview_dashboard.expressions().items()}


def test_only_real_metric_names():
    assert_real_metric_names(overview_expressions())


def test_metric_name_check_can_fail():
    assert metric_names('sum by (State) (ray_tasks_total{State="X"})') == {"ray_tasks_total"}
    assert "ray_tasks_total" not in METRIC_NAMES and "ray_actors_alive" not in METRIC_NAMES


def test_every_expression_parses(tmp_path):
    assert_expressions_parse(overview_expressions(), tmp_path)


def test_parse_check_can_fail(tmp_path):
    with pytest.raises(AssertionError):
        assert_expressions_parse({"broken": "sum by (("}, tmp_path)


def test_overview_is_committed_as_built():
    committed = (PROJECT_ROOT / "dashboards" / "ray-monitoring" / "overview.json").read_text()
    assert committed == overview_dashboard.render(), "run venv/bin/python dashboards/regenerate.py"
    board = json.loads(committed)
    assert board["uid"] == "rayMonitoringOverview"
    names = [v["name"] for v in board["templating"]["list"]]
    assert names == ["datasource", "Cluster", "SessionName", "Instance", "Nodes"]
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
    binary = node_tool("tsc")
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
    own = {d.slug: d.content for d in load_dashboards(logs=True) if not d.relative_path.startswith("ray/")}
    assert own, "the project ships its own dashboards"
    result = tsc(own)
    assert result.returncode == 0, result.stdout
    broken = json.loads(own["ray-monitoring-overview"])
    broken["panels"][0]["gridPos"]["w"] = "wide"
    broken["graphTooltip"] = True
    broken["panelz"] = []
    result = tsc({"broken": json.dumps(broken)})
    assert result.returncode != 0 and "broken.ts" in result.stdout


def test_both_stacks_deploy_every_dashboard(minikube, aws):
    dashboards = load_dashboards(logs=True)  # both stacks ship logs by default
    paths = {path for path in aws.config() if path.startswith("/opt/ray-monitoring/dashboards/")}
    assert paths == {f"/opt/ray-monitoring/dashboards/{d.file_name}" for d in dashboards}
    maps = {r.name for r in minikube.of_type("kubernetes:core/v1:ConfigMap")}
    assert {f"grafana-dashboard-{d.slug}" for d in dashboards} <= maps
    assert "grafana-dashboard-ray-monitoring-overview" in maps


def logs_links(dashboard: dict) -> dict[str, list[dict]]:
    return {p["title"]: p["links"] for p in dashboard["panels"] if p.get("links")}


def test_the_job_panels_link_to_the_clusters_worker_and_driver_logs():
    links = logs_links(overview_dashboard.dashboard())
    assert set(links) == {"Tasks by state", "Finished and failed tasks per second", "Actors by state"}
    logs = logs_dashboard.dashboard()
    variables = {v["name"] for v in logs["templating"]["list"]}
    components = {component for component, _ in NAME_FAMILIES}  # what the collectors name a file's component
    for (link,) in links.values():
        url = urllib.parse.urlparse(link["url"])
        assert url.path == f"/d/{logs['uid']}/ray-logs"
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        assert {k.removeprefix("var-") for k in query if k.startswith("var-")} <= variables
        assert set(query["var-Component"]) == {"worker", "job_driver"} <= components
        # Grafana's variable formats: the overview's Cluster as var-Cluster=..., the time range as from/to.
        assert "${Cluster:queryparam}" in link["url"] and "${__url_time_range}" in link["url"]
    (tagged,) = overview_dashboard.dashboard()["links"]
    assert set(tagged["tags"]) <= set(logs["tags"]) and tagged["includeVars"] and tagged["keepTime"]
    assert not [d for d in load_dashboards(logs=True) if set(tagged["tags"]) <= set(json.loads(d.content)["tags"])
                and d.uid != logs["uid"]], "the tag link finds the logs dashboard alone"


def test_without_logs_the_overview_keeps_no_link_to_a_dashboard_it_does_not_serve():
    def overview(logs: bool) -> dict:
        (found,) = [json.loads(d.content) for d in load_dashboards(logs=logs) if d.uid == overview_dashboard.UID]
        return found
    assert len(logs_links(overview(True))) == 3
    assert logs_links(overview(False)) == {}
    assert {k: v for k, v in overview(False).items() if k != "panels"} == \
        {k: v for k, v in overview(True).items() if k != "panels"}  # the tag link finds nothing, so it stays


NODE_PANELS = {"CPU utilisation per node", "Memory per node", "Network per node", "Disk I/O per node",
               "GPU utilisation per GPU", "GPU memory used vs total"}


def data_links(dashboard: dict) -> dict[str, list[dict]]:
    return {p["title"]: p["fieldConfig"]["defaults"]["links"] for p in dashboard["panels"]
            if p["fieldConfig"]["defaults"].get("links")}


def test_each_node_series_links_to_that_nodes_logs():
    links = data_links(overview_dashboard.dashboard())
    assert set(links) == NODE_PANELS
    logs = logs_dashboard.dashboard()
    for (link,) in links.values():
        url = urllib.parse.urlparse(link["url"])
        assert url.path == f"/d/{logs['uid']}/ray-logs"
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        assert query["var-Node"] == ["${__field.labels.log_node}"]
    for panel in overview_dashboard.PANELS:
        if panel.title in NODE_PANELS:
            assert all(q.expr.startswith("label_replace(") and '"log_node"' in q.expr for q in panel.queries)
    overview = {d.uid: json.loads(d.content) for d in load_dashboards(logs=False)}[overview_dashboard.UID]
    assert data_links(overview) == {}, "no data link to a logs dashboard that is not served"


def test_per_node_panels_draw_the_nodes_whose_measure_averaged_highest_over_the_range(tmp_path):
    """Twelve nodes, node i at i % busy, but node 1 jumps to 20 % at the end (above every other, still averaging
    below node 3). At "top 10" the panel draws nodes 3 to 12 at every point of the range (ranked once, by the
    average up to its end: Grafana's range end is `end()`, 5m here); at "All", every node."""
    (expr,) = [q.expr for p in overview_dashboard.PANELS if p.title == "CPU utilisation per node" for q in p.queries]
    common = 'ray_io_cluster="c",SessionName="s"'
    series = [{"series": f'ray_node_cpu_utilization{{{common},instance="10.0.0.{i}:8080",ip="10.0.0.{i}"}}',
               "values": "1x8 20" if i == 1 else f"{i}x10"} for i in range(1, 13)]

    def drawn(nodes: str, at: str) -> list[dict]:
        return [{"labels": f'{{instance="10.0.0.{i}:8080",ip="10.0.0.{i}",log_node="ip-10-0-0-{i}"}}',
                 "value": 20 if (i == 1 and at == "5m") else i} for i in (range(3, 13) if nodes == "10"
                                                                          else range(1, 13))]
    cases = [{"expr": as_grafana_sends(expr).replace("topk(10,", f"topk({nodes},").replace(
                  "@ end()", "@ 300"), "eval_time": at, "exp_samples": drawn(nodes, at)}
             for nodes in ("10", overview_dashboard.ALL_NODES) for at in ("2m", "5m")]
    test_file = tmp_path / "tests.yml"
    test_file.write_text(yaml.safe_dump({"tests": [{"interval": "30s", "input_series": series,
                                                    "promql_expr_test": cases}]}))
    result = subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_node_panels_name_each_node_as_its_log_collector_does(tmp_path):
    """Evaluated by the real promtool on a pod's series (Kubernetes: its `pod`, the collector's downward-API
    name) and an EC2 node's (no pod: EC2's IP-based host name from Ray's `ip`, the collector's HOSTNAME)."""
    (expr,) = [q.expr for p in overview_dashboard.PANELS if p.title == "CPU utilisation per node" for q in p.queries]
    expr = as_grafana_sends(expr)
    common = 'ray_io_cluster="c",SessionName="s"'
    series = [{"series": f'ray_node_cpu_utilization{{{common},instance="10.244.0.7:8080",ip="10.244.0.7",'
                         f'pod="ray-training-cluster-head-x7k2p"}}', "values": "12x10"},
              {"series": f'ray_node_cpu_utilization{{{common},instance="10.0.1.23:8080",ip="10.0.1.23"}}',
               "values": "40x10"}]
    expected = [
        {"labels": '{instance="10.244.0.7:8080",ip="10.244.0.7",log_node="ray-training-cluster-head-x7k2p",'
                   'pod="ray-training-cluster-head-x7k2p"}', "value": 12},
        {"labels": '{instance="10.0.1.23:8080",ip="10.0.1.23",log_node="ip-10-0-1-23"}', "value": 40}]
    test_file = tmp_path / "tests.yml"
    test_file.write_text(yaml.safe_dump({"tests": [{"interval": "30s", "input_series": series, "promql_expr_test": [
        {"expr": expr, "eval_time": "2m", "exp_samples": expected}]}]}))
    result = subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    wrong = test_file.read_text().replace("ip-10-0-1-23", "ip-10.0.1.23")
    test_file.write_text(wrong)
    failed = subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert failed.returncode != 0, "the check can fail"


CLOUD_INIT_HOSTNAME = """
import json, sys
from cloudinit import distros, helpers, settings
from cloudinit.sources import DataSource

class Metadata(DataSource):
    dsname = "Metadata"
    def _get_data(self):
        return True

paths = helpers.Paths({"run_dir": sys.argv[2], "cloud_dir": sys.argv[2]})
source = Metadata(settings.CFG_BUILTIN, distros.fetch("ubuntu")("ubuntu", {}, paths), paths)
source.metadata = {"local-hostname": sys.argv[1]}
print(source.get_hostname().hostname)
"""


def test_an_ec2_instance_by_ip_name_is_host_ip_dashes_as_cloud_init_sets_it(tmp_path):
    """EC2 names an instance of an IPv4-only subnet after its private IPv4 (EC2 API Reference,
    PrivateDnsNameOptionsRequest.HostnameType: "For IPv4 only subnets, an instance DNS name must be based on
    the instance IPv4 address"; EC2 User Guide, "Amazon EC2 instance hostname types": IP name
    ip-<private IPv4, dots as dashes>.<region>.compute.internal, the IMDS local-hostname), and cloud-init
    (the Debian package, run here) sets the host name to its first label, which Docker passes the
    collector as HOSTNAME: the name by_node derives from Ray's `ip`."""
    python = shutil.which("python3", path="/usr/bin")
    assert python, "/usr/bin/python3 with Debian's cloud-init (tests/run installs it)"
    found = subprocess.run([python, "-c", CLOUD_INIT_HOSTNAME, "ip-10-0-1-23.us-west-2.compute.internal",
                            str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "ip-10-0-1-23"
    assert 'log_node", "ip-$1-$2-$3-$4", "ip", "([0-9]+)[.]([0-9]+)[.]([0-9]+)[.]([0-9]+)"' in \
        overview_dashboard.by_node("x")
