"""Ray's logs on the minikube stack: Loki beside Prometheus, a collector in every pod of the created RayCluster."""

from __future__ import annotations

import yaml

from support.stacks import OPERATOR_MODE, PATCH_MODE, Run, refused, run_stack

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RAY_CLUSTER = "kubernetes:ray.io/v1:RayCluster"
LOKI_URL = "http://loki.monitoring.svc:3100"


def pod_specs(result: Run) -> list[dict]:
    spec = result.one(RAY_CLUSTER, "ray-cluster-cluster").plain["spec"]
    return [spec["headGroupSpec"]["template"]["spec"], *(g["template"]["spec"] for g in spec["workerGroupSpecs"])]


def datasources(result: Run) -> dict[str, dict]:
    provisioning = [r.plain for r in result.of_type(CONFIG_MAP) if "datasources.yaml" in r.plain.get("data", {})]
    (data,) = [p["data"]["datasources.yaml"] for p in provisioning]
    return {d["uid"]: d for d in yaml.safe_load(data)["datasources"]}


def test_the_created_cluster_ships_its_logs_to_loki_by_default(minikube):
    collector = minikube.one(CONFIG_MAP, "ray-cluster-log-collector").plain
    config = yaml.safe_load(collector["data"]["collector.yaml"])
    assert config["exporters"]["otlp_http"]["endpoint"] == f"{LOKI_URL}/otlp"
    assert config["receivers"]["file_log"]["resource"]["ray_io_cluster"] == "ray-training-cluster"
    assert collector["metadata"]["namespace"] == "ray-system"  # beside the pods that mount it
    for pod in pod_specs(minikube):
        assert [c["name"] for c in pod["containers"]][:2] in (["ray-head", "log-collector"],
                                                             ["ray-worker", "log-collector"])
    assert datasources(minikube)["ray-logs"]["type"] == "loki"
    assert datasources(minikube)["ray-logs"]["url"] == LOKI_URL


def test_the_cluster_waits_for_its_collectors_configuration(minikube):
    collector = minikube.one(CONFIG_MAP, "ray-cluster-log-collector")
    assert collector.urn in minikube.one(RAY_CLUSTER, "ray-cluster-cluster").dependencies


def test_loki_keeps_the_retention_and_talks_to_no_api(minikube):
    loki = minikube.one(DEPLOYMENT, "loki-deployment").plain["spec"]["template"]["spec"]
    assert loki["automountServiceAccountToken"] is False
    assert not [r for r in minikube.resources if "rbac" in r.type and "loki" in r.name]
    config = yaml.safe_load(minikube.one(CONFIG_MAP, "loki-config").plain["data"]["loki.yaml"])
    assert config["limits_config"]["retention_period"] == "7d"
    data = {"name": "data", "emptyDir": {"sizeLimit": "3Gi"}}  # 4 nodes for 7 days
    assert {v["name"]: v for v in loki["volumes"]}["data"] == data


def test_only_grafana_and_the_created_clusters_pods_reach_loki(minikube):
    policy = minikube.one(POLICY, "loki-network-policy").plain["spec"]
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    grafana, ray = rule["from"]
    assert grafana == {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "grafana",
                                                       "app.kubernetes.io/instance": "grafana"}}}
    assert ray["podSelector"]["matchLabels"]["ray.io/cluster"] == "ray-training-cluster"
    assert ray["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "ray-system"}}


def test_logs_off_leaves_no_loki_no_collector_and_no_datasource():
    off = run_stack("minikube", logs="false")
    assert off.error is None, off.error
    assert not [r for r in off.resources if r.name.startswith(("loki", "ray-cluster-log-collector"))]
    for pod in pod_specs(off):
        assert "log-collector" not in [c["name"] for c in pod["containers"]]
    assert "ray-logs" not in datasources(off)


def test_a_persistent_loki_volume_is_a_claim_sized_for_the_cluster_and_retention():
    """rayWorkerMaxReplicas 3 (the default) + the head, 3 MB an hour each, for 30 days, volume filled to 80%."""
    result = run_stack("minikube", lokiStorage="persistentVolumeClaim", logsRetention="30d")
    assert result.error is None, result.error
    claim = result.one("kubernetes:core/v1:PersistentVolumeClaim", "loki-data").plain
    assert claim["spec"]["resources"]["requests"]["storage"] == "11Gi"
    volumes = result.one(DEPLOYMENT, "loki-deployment").plain["spec"]["template"]["spec"]["volumes"]
    assert {v["name"]: v for v in volumes}["data"]["persistentVolumeClaim"] == {"claimName": "loki-data"}


def test_logs_are_off_by_default_on_clusters_the_stack_patches():
    """A team's running pods are theirs: the collector joins their heads only when asked
    (tests/stacks/test_patched_heads_logs.py)."""
    unset = run_stack("minikube", **PATCH_MODE)
    assert unset.error is None, unset.error
    assert not [r for r in unset.resources if r.name.startswith("loki") or "log-collector" in r.name]


def test_logs_are_refused_with_prometheus_operator():
    unset = run_stack("minikube", **OPERATOR_MODE)
    assert unset.error is None, unset.error
    assert not [r for r in unset.resources if r.name.startswith("loki")]
    message = refused(run_stack("minikube", logs="true", **OPERATOR_MODE), "logs")
    assert "not offered here yet" in message and "pulumi config rm logs" in message
