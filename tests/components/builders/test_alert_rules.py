"""The alert rules: real metric names, PromQL that parses, and `promtool test rules` cases proving
each rule fires when it should and stays quiet otherwise; both stacks load them."""

from __future__ import annotations

import subprocess

import yaml

from components.builders import alert_rules
from components.builders.alert_rules import AlertSettings
from support.promql import (
    DASHBOARD_RULES,
    DEPLOYED_RULES,
    RULES_FOUND,
    assert_expressions_parse,
    assert_real_metric_names,
)
from support.tools import promtool


def rule_expressions() -> dict[str, str]:
    return {f"rule: {k}": v for k, v in alert_rules.expressions(AlertSettings()).items()}


def test_only_real_metric_names():
    assert_real_metric_names(rule_expressions())


def test_every_expression_parses(tmp_path):
    assert_expressions_parse(rule_expressions(), tmp_path)


def series(name: str, labels: dict[str, str], values: str) -> dict:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


NODE = {"ray_io_cluster": "c1", "instance": "10.0.0.1:8080"}
GPU = {**NODE, "GpuIndex": "0"}


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
         "input": [series("ray_object_store_memory", {**NODE, "Location": "MMAP_SHM"}, f"{full}x20"),
                   series("ray_resources", {**NODE, "Name": "object_store_memory", "State": "USED"}, f"{full}x20"),
                   series("ray_resources", {**NODE, "Name": "object_store_memory", "State": "AVAILABLE"},
                          f"{100 - int(full)}x20")],
         "expected": [{**NODE, "severity": "warning"}],
         "description": "Object store on 10.0.0.1:8080 is 95% full (threshold 90%): objects will spill to disk."},
        {"name": "object store fine is quiet", "alert": "RayObjectStoreFull", "at": "10m",
         "input": [series("ray_object_store_memory", {**NODE, "Location": "MMAP_SHM"}, f"{fine}x20"),
                   series("ray_resources", {**NODE, "Name": "object_store_memory", "State": "USED"}, f"{fine}x20"),
                   series("ray_resources", {**NODE, "Name": "object_store_memory", "State": "AVAILABLE"},
                          f"{100 - int(fine)}x20")], "expected": []},
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
        # GPU memory in MB, as Ray reports it, per GPU.
        {"name": "GPU memory fires", "alert": "RayGpuMemoryHigh", "at": "10m",
         "input": [series("ray_node_gram_used", GPU, "78000x20"), series("ray_node_gram_available", GPU, "2000x20")],
         "expected": [{**GPU, "severity": "warning"}],
         "description": "GPU 0 on 10.0.0.1:8080 uses 97.5% of its memory (threshold 95%): the next allocation "
                        "may fail with out-of-memory."},
        {"name": "GPU memory fine is quiet", "alert": "RayGpuMemoryHigh", "at": "10m",
         "input": [series("ray_node_gram_used", GPU, "40000x20"), series("ray_node_gram_available", GPU, "40000x20")],
         "expected": []},
        {"name": "idle allocated GPU fires", "alert": "RayGpusIdle", "at": "40m",
         "input": [series("ray_node_gpus_utilization", GPU, "1x80"),
                   series("ray_resources", {**NODE, "Name": "GPU", "State": "USED"}, "1x80")],
         "expected": [{**GPU, "severity": "warning"}],
         "description": "GPU 0 on 10.0.0.1:8080 is allocated to Ray tasks or actors but has been under 5% busy "
                        "for 30m: it is paid for and idle."},
        {"name": "idle but unallocated GPU is quiet", "alert": "RayGpusIdle", "at": "40m",
         "input": [series("ray_node_gpus_utilization", GPU, "1x80"),
                   series("ray_resources", {**NODE, "Name": "GPU", "State": "USED"}, "0x80")],
         "expected": []},
        {"name": "busy GPU is quiet", "alert": "RayGpusIdle", "at": "40m",
         "input": [series("ray_node_gpus_utilization", GPU, "80x80"),
                   series("ray_resources", {**NODE, "Name": "GPU", "State": "USED"}, "1x80")],
         "expected": []},
        {"name": "idle for less than 30 minutes is quiet", "alert": "RayGpusIdle", "at": "20m",
         "input": [series("ray_node_gpus_utilization", GPU, "1x80"),
                   series("ray_resources", {**NODE, "Name": "GPU", "State": "USED"}, "1x80")],
         "expected": []},
    ]


def test_promtool_rule_unit_tests(tmp_path):
    settings = AlertSettings()
    rules_path = tmp_path / alert_rules.FILE_NAME
    rules_path.write_text(alert_rules.render(settings, DASHBOARD_RULES))
    checked = subprocess.run([promtool(), "check", "rules", str(rules_path)], capture_output=True, text=True,
                             timeout=60)
    assert checked.returncode == 0 and RULES_FOUND in checked.stdout, checked.stdout + checked.stderr
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
    assert data[alert_rules.FILE_NAME] == DEPLOYED_RULES
    assert yaml.safe_load(data["prometheus.yml"])["rule_files"] == ["/etc/prometheus/ray-alerts.yml"]
    assert aws.config()["/opt/ray-monitoring/prometheus/ray-alerts.yml"] == DEPLOYED_RULES


def test_alert_settings_reach_the_rules():
    from support.stacks import run_stack

    result = run_stack("minikube", alertObjectStorePercent="75", alertFor="15m")
    assert result.error is None, result.error
    rules = yaml.safe_load(result.one("kubernetes:core/v1:ConfigMap", "prometheus-config").plain["data"][
        alert_rules.FILE_NAME])["groups"][0]["rules"]
    full = next(r for r in rules if r["alert"] == "RayObjectStoreFull")
    assert full["expr"].endswith("> 75") and full["for"] == "15m"


