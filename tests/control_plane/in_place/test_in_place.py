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
    changed = outcome.changed()
    assert changed and set(changed.values()) == {"update"}, changed  # no replace, no delete
    kinds = {urn.rsplit("::", 2)[1].rsplit("$", 1)[-1] for urn in changed}
    assert "kubernetes:ray.io/v1:RayCluster" in kinds, kinds
    plane = deployed.cluster.plane

    cluster = plane.read("ray.io/v1", "RayCluster", CLUSTER, NAMESPACE)
    head = cluster.spec.headGroupSpec.template.spec.containers[0]
    assert env(head)["RAY_PROMETHEUS_NAME"] == "Ray Prometheus"
    assert cluster.spec.upgradeStrategy.type == "Recreate"

    config_maps = plane.dynamic().resources.get(api_version="v1", kind="ConfigMap").get(namespace="monitoring")
    files = [value for item in config_maps.items for value in (item.data or {}).values()]
    assert any("scrape_interval: 10s" in text for text in files)
    assert any("> 85" in text for text in files)  # RayNodeMemoryHigh's threshold
    datasources = [d for text in files if "datasources:" in text for d in yaml.safe_load(text)["datasources"]]
    assert [d["name"] for d in datasources] == ["Ray Prometheus"]
    prometheus = plane.read("apps/v1", "Deployment", "prometheus", "monitoring")
    assert "--storage.tsdb.retention.time=7d" in prometheus.spec.template.spec.containers[0].args
