"""metricCardinalityLevel: RAY_metric_cardinality_level on the Ray nodes each stack runs, and in the sizing."""

from __future__ import annotations

import pytest
import yaml

from components.builders.ray_head_env import CARDINALITY_ENV, CARDINALITY_LEVELS, RAY_DEFAULT_CARDINALITY
from components.builders.sizing import WORKER_SERIES_BY_LEVEL, size
from support.crds import v1_schema
from support.stacks import PATCH_MODE, Run, run_stack, written_files

RAY_CLUSTER = "kubernetes:ray.io/v1:RayCluster"
PATCH = "kubernetes:ray.io/v1:RayClusterPatch"
INSTANCE = "aws:ec2/instance:Instance"
COMPOSE = "/opt/ray-monitoring/compose.yaml"


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value", "<from a secret>") for e in container.get("env", [])}


def created_nodes(result: Run) -> tuple[dict[str, str], dict[str, str]]:
    """The created RayCluster's head and worker environments."""
    spec = result.one(RAY_CLUSTER, "ray-cluster-cluster").plain["spec"]
    head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]  # Ray's (the log collector follows it)
    (group,) = spec["workerGroupSpecs"]
    worker = group["template"]["spec"]["containers"][0]
    return _env(head), _env(worker)


def aws_nodes(result: Run) -> tuple[dict[str, str], dict[str, str]]:
    head = yaml.safe_load(result.config()[COMPOSE])["services"]["ray-head"]
    worker = yaml.safe_load(written_files(result.worker_user_data())[COMPOSE])["services"]["ray-worker"]
    return head.get("environment", {}), worker.get("environment", {})


def test_the_levels_are_the_ones_ray_reads():
    # ray/_private/telemetry/metric_cardinality.py (Ray 2.60): MetricCardinality's values, and the
    # default RAY_METRIC_CARDINALITY_LEVEL in ray/_private/ray_constants.py.
    from ray._private import ray_constants
    from ray._private.telemetry.metric_cardinality import MetricCardinality

    assert CARDINALITY_LEVELS == tuple(level.value for level in MetricCardinality)
    assert ray_constants.RAY_METRIC_CARDINALITY_LEVEL == RAY_DEFAULT_CARDINALITY
    assert set(WORKER_SERIES_BY_LEVEL) == set(CARDINALITY_LEVELS)


def test_ray_reads_an_unknown_level_as_legacy_so_the_setting_refuses_it(monkeypatch):
    # metric_cardinality.py: MetricCardinality(value) raising ValueError falls back to LEGACY, the level
    # with the most series: a typo would grow Prometheus silently.
    from ray._private.telemetry import metric_cardinality

    monkeypatch.setattr(metric_cardinality, "RAY_METRIC_CARDINALITY_LEVEL", "minimal")
    monkeypatch.setattr(metric_cardinality, "_CARDINALITY_LEVEL", None)
    assert metric_cardinality.MetricCardinality.get_cardinality_level().value == "legacy"
    for stack in ("minikube", "aws"):
        result = run_stack(stack, metricCardinalityLevel="minimal")
        assert result.error is not None and "metricCardinalityLevel" in str(result.error)
        assert "legacy, recommended, low" in str(result.error) and "'minimal'" in str(result.error)
        assert not result.resources, "nothing is created with a bad setting"


@pytest.mark.parametrize("level", CARDINALITY_LEVELS)
def test_the_created_clusters_head_and_workers_get_the_level(level):
    head, worker = created_nodes(run_stack("minikube", metricCardinalityLevel=level))
    assert head[CARDINALITY_ENV] == worker[CARDINALITY_ENV] == level


def test_kuberay_declares_worker_group_specs_an_atomic_list():
    # ray-operator/config/crd/bases/ray.io_rayclusters.yaml (v1.7.0): workerGroupSpecs has no
    # x-kubernetes-list-type, which makes it atomic for server-side apply (Kubernetes' "Merge strategy"
    # docs): an apply that names one worker group would own the whole list.
    spec = v1_schema("schemas/ray.io_rayclusters.v1.7.0.yaml")["properties"]["spec"]["properties"]
    assert "x-kubernetes-list-type" not in spec["workerGroupSpecs"]
    containers = spec["headGroupSpec"]["properties"]["template"]["properties"]["spec"]["properties"]["containers"]
    assert containers["x-kubernetes-list-type"] == "map", "the head's containers merge by name"


def test_a_patched_clusters_head_gets_the_level():
    # workerGroupSpecs is atomic (above): the patch leaves the worker groups alone.
    result = run_stack("minikube", metricCardinalityLevel="low", **PATCH_MODE)
    (patch,) = result.of_type(PATCH)
    (head,) = patch.plain["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    assert _env(head)[CARDINALITY_ENV] == "low"
    assert "workerGroupSpecs" not in patch.plain["spec"]


def test_every_ec2_node_gets_the_level():
    head, worker = aws_nodes(run_stack("aws", metricCardinalityLevel="legacy"))
    assert head[CARDINALITY_ENV] == worker[CARDINALITY_ENV] == "legacy"


def test_unset_leaves_rays_default_and_adds_nothing(minikube, aws):
    # No new variable on an existing head: a second `pulumi up` after an upgrade restarts nothing.
    for env in (*created_nodes(minikube), *aws_nodes(aws)):
        assert CARDINALITY_ENV not in env


def test_the_sizing_follows_the_level():
    by_level = {level: size(1000, "5s", "15d", cardinality_level=level) for level in CARDINALITY_LEVELS}
    assert by_level["legacy"].series > by_level["recommended"].series > by_level["low"].series
    assert by_level["recommended"] == size(1000, "5s", "15d")
    legacy = run_stack("minikube", metricCardinalityLevel="legacy", rayNodes="1000")
    prometheus = legacy.one("kubernetes:apps/v1:Deployment", "prometheus-deployment").plain
    container = prometheus["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"] == by_level["legacy"].memory_limit
    assert by_level["legacy"].memory_limit != by_level["recommended"].memory_limit
