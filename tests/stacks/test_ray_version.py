"""Grafana serves the dashboards of the Ray the cluster runs: the created cluster's image, the patched
clusters' spec.rayVersion, or rayVersion; a version without dashboards is refused before anything
is created."""

from __future__ import annotations

import json

from stacks.settings import ConfigError
from support.stacks import PATCH_MODE, USERS_CLUSTER, Run, run_stack

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


def default_dashboard(result: Run) -> dict:
    data = result.one(CONFIG_MAP, "grafana-dashboard-ray-default").plain["data"]
    return json.loads(next(iter(data.values())))


def test_the_created_cluster_image_chooses_the_dashboards(minikube):
    assert minikube.outputs["rayDashboardsVersion"] == "2.60.0"
    older = run_stack("minikube", rayImage="rayproject/ray:2.55.0-py311-cpu")
    assert older.error is None, older.error
    assert older.outputs["rayDashboardsVersion"] == "2.55.1"
    assert default_dashboard(older) != default_dashboard(minikube)
    assert default_dashboard(older)["uid"] == "rayDefaultDashboard"


def test_the_patched_clusters_declared_version_chooses_them(minikube_patch):
    # KubeRay's sample RayCluster declares rayVersion 2.52.0.
    assert minikube_patch.outputs["rayDashboardsVersion"] == "2.52.1"


def test_an_explicit_rayversion_wins():
    result = run_stack("minikube", rayVersion="2.57.1", rayImage="rayproject/ray:2.55.0")
    assert result.error is None and result.outputs["rayDashboardsVersion"] == "2.57.1"
    aws = run_stack("aws", rayVersion="2.58")
    assert aws.error is None and aws.outputs["rayDashboardsVersion"] == "2.58.1"
    assert "/opt/ray-monitoring/dashboards/ray-default.json" in aws.config()


def test_a_cluster_on_an_unsupported_version_is_refused(kubernetes_api):
    cluster = dict(kubernetes_api.ray_clusters[("ray-system", USERS_CLUSTER)])
    cluster["spec"] = {**cluster["spec"], "rayVersion": "2.30.0"}
    kubernetes_api.add(cluster, "old", "ray-system")
    result = run_stack("minikube", rayClusterName="old", **PATCH_MODE)
    assert isinstance(result.error, ConfigError) and result.resources == []
    message = str(result.error)
    assert "ray-monitoring:rayVersion = '2.30.0'" in message and "supported: 2.52" in message
    assert "the Ray version the cluster runs" in message and "Fix: pulumi config set rayVersion 2.60.0" in message


def test_clusters_on_different_versions_need_rayversion(kubernetes_api):
    cluster = dict(kubernetes_api.ray_clusters[("ray-system", USERS_CLUSTER)])
    newer = {**cluster, "spec": {**cluster["spec"], "rayVersion": "2.58.0"}}
    kubernetes_api.add(newer, "newer", "ray-system")
    targets = [{"name": USERS_CLUSTER, "namespace": "ray-system"},
               {"name": "newer", "namespace": "ray-system"}]
    result = run_stack("minikube", rayClusters=targets, **PATCH_MODE)
    assert isinstance(result.error, ConfigError) and "different Ray versions" in str(result.error)
    assert result.resources == []
    chosen = run_stack("minikube", rayClusters=targets, rayVersion="2.58.0", **PATCH_MODE)
    assert chosen.error is None and chosen.outputs["rayDashboardsVersion"] == "2.58.1"
