"""Scenario 3, in-place changes: scrapeInterval, retentionTime, an alert threshold and datasourceName change
by updates only: nothing that holds data or runs Ray is replaced or deleted. The created RayCluster's head
template carries the new datasource name, with the upgrade strategy that makes KubeRay (1.6 and later)
recreate its pods."""

from __future__ import annotations

import yaml

from support.cluster_state import env
from support.control_plane import CLUSTER, NAMESPACE

CHANGES = {"scrapeInterval": "10s", "retentionTime": "7d", "alertNodeMemoryPercent": 85,
           "datasourceName": "Ray Prometheus"}


def test_changed_settings_update_in_place(deployed):
    deployed.project.config.update(CHANGES)
    outcome = deployed.project.run("up")
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    kinds: dict[str, set[str]] = {}  # op -> the types it touched
    for op, urn, _ in outcome.steps:
        kinds.setdefault(op, set()).add(urn.split("::")[-2].rsplit("$", 1)[-1])
    # Only configuration files are replaced (a new auto-named ConfigMap each, the old one deleted after);
    # the Deployments roll to them and the RayCluster is updated: nothing is deleted first.
    replaced = kinds.get("replace", set()) | kinds.get("create-replacement", set()) | kinds.get("delete-replaced",
                                                                                                set())
    assert replaced == {"kubernetes:core/v1:ConfigMap"}, kinds
    assert "kubernetes:ray.io/v1:RayCluster" in kinds["update"], kinds
    assert {"kubernetes:apps/v1:Deployment"} <= kinds["update"], kinds
    assert set(kinds) <= {"update", "replace", "create-replacement", "delete-replaced"}, kinds
    plane = deployed.cluster.plane

    cluster = plane.read("ray.io/v1", "RayCluster", CLUSTER, NAMESPACE)
    head = cluster.spec.headGroupSpec.template.spec.containers[0]
    assert env(head)["RAY_PROMETHEUS_NAME"] == "Ray Prometheus"
    assert cluster.spec.upgradeStrategy.type == "Recreate"

    files = [value for item in plane.list("v1", "ConfigMap", "monitoring") for value in (item.data or {}).values()]
    assert any("scrape_interval: 10s" in text for text in files)
    assert any("> 85" in text for text in files)  # RayNodeMemoryHigh's threshold
    datasources = [d for text in files if "datasources:" in text for d in yaml.safe_load(text)["datasources"]]
    assert [d["name"] for d in datasources] == ["Ray Prometheus", "Ray logs"]
    prometheus = plane.read("apps/v1", "Deployment", "prometheus", "monitoring")
    assert "--storage.tsdb.retention.time=7d" in prometheus.spec.template.spec.containers[0].args
