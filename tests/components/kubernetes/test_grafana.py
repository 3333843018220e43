"""The Grafana component alone, under mocks: dashboards, Service, claim and pod."""

from __future__ import annotations

from components.builders.dashboard_catalogue import Dashboard
from components.kubernetes.common import Resources, Storage
from components.kubernetes.grafana import Grafana, GrafanaArgs
from support.stacks import run

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"


def test_grafana_component_alone():

    dashboard = Dashboard("x/y.json", "x-y.json", "x-y", "uidXY", '{"uid": "uidXY"}')
    args = GrafanaArgs(
        namespace="obs", grafana_ini="[server]\n", datasources_yaml="d", dashboard_providers_yaml="p",
        dashboards=(dashboard,), resources=Resources("10m", "100m", "64Mi", "128Mi"),
        storage=Storage(True, "2Gi", None), service_type="LoadBalancer", service_port=80, node_port=None,
    )
    result = run("unit", {}, lambda: Grafana("graf", args))
    assert result.error is None, result.error
    assert result.one(CONFIG_MAP, "graf-dashboard-x-y").plain["data"] == {"x-y.json": '{"uid": "uidXY"}'}
    service = result.one(SERVICE, "graf-service").plain["spec"]
    assert service["type"] == "LoadBalancer" and service["ports"][0]["port"] == 80
    assert "nodePort" not in service["ports"][0]
    claim = result.one("kubernetes:core/v1:PersistentVolumeClaim", "graf-data").plain
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi" and "storageClassName" not in claim["spec"]
    pod = result.one(DEPLOYMENT, "graf-deployment").plain["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "graf-data"}} in pod["volumes"]
