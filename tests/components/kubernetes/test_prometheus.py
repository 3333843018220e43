"""The Prometheus component alone, under mocks: its config, pod, RBAC and Service."""

from __future__ import annotations

from components.kubernetes import common as kc
from components.kubernetes.common import Resources, Storage
from components.kubernetes.prometheus import Prometheus, PrometheusArgs
from support.stacks import run

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def test_prometheus_component_alone():
    args = PrometheusArgs(
        namespace="obs", prometheus_yml="global: {}\n", watch_namespaces=("a",), retention_time="1d",
        retention_size="1GB", resources=Resources("50m", "1", "64Mi", "128Mi"),
        storage=Storage(False, "5Gi", None),
    )
    result = run("unit", {}, lambda: Prometheus("prom", args))
    assert result.error is None, result.error
    config = result.one(CONFIG_MAP, "prom-config").plain
    assert config["metadata"]["namespace"] == "obs" and config["data"]["prometheus.yml"] == "global: {}\n"
    pod = result.one(DEPLOYMENT, "prom-deployment").plain["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "prom"
    assert {"name": "data", "emptyDir": {"sizeLimit": "5Gi"}} in pod["volumes"]
    assert result.one("kubernetes:rbac.authorization.k8s.io/v1:Role", "prom-rbac-role-a")
    assert kc.service_url("prom", "obs", 9090) == "http://prom.obs.svc:9090"
    outputs = [r for r in result.resources if r.type == "ray-monitoring:kubernetes:Prometheus"]
    assert len(outputs) == 1
