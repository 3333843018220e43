"""The log collector beside Ray in the created RayCluster's pods."""

from __future__ import annotations

import yaml

from components.builders.logs.sidecar import COLLECTOR_CONTAINER, RAY_LOGS_VOLUME, PodLogs, collector_yaml
from components.builders.ray_cluster import RayClusterShape, RayNodeSize, ray_cluster_spec
from components.constants import RAY_UID
from components.versions import OTEL_COLLECTOR_IMAGE

SHAPE = RayClusterShape("rayproject/ray:2.60.0", RayNodeSize("1", "2Gi"), RayNodeSize("1", "2Gi"), 1, 3)


def pods(logs: PodLogs | None) -> dict[str, dict]:
    spec = ray_cluster_spec(SHAPE, "ray-head", [], logs=logs)
    return {"head": spec["headGroupSpec"]["template"]["spec"],
            "worker": spec["workerGroupSpecs"][0]["template"]["spec"]}


def test_every_pod_runs_the_collector_right_after_rays_container():
    """KubeRay takes the first container as Ray's (utils.RayContainerIndex = 0) and appends the autoscaler."""
    for node_type, pod in pods(PodLogs("collector-config")).items():
        ray, collector = pod["containers"]
        assert ray["name"] in ("ray-head", "ray-worker")
        assert collector["name"] == COLLECTOR_CONTAINER and collector["image"] == OTEL_COLLECTOR_IMAGE
        env = {e["name"]: e.get("value", e.get("valueFrom")) for e in collector["env"]}
        assert env == {"RAY_MONITORING_NODE": {"fieldRef": {"fieldPath": "metadata.name"}},
                       "RAY_MONITORING_NODE_TYPE": node_type}
        config = {v["name"]: v for v in pod["volumes"]}["log-collector-config"]
        assert config["configMap"]["name"] == "collector-config"


def test_ray_writes_to_the_shared_volume_the_collector_reads_read_only():
    for pod in pods(PodLogs("c")).values():
        ray, collector = pod["containers"]
        assert {"name": RAY_LOGS_VOLUME, "mountPath": "/tmp/ray"} in ray["volumeMounts"]
        mounts = {m["mountPath"]: m for m in collector["volumeMounts"]}
        assert mounts["/tmp/ray"] == {"name": RAY_LOGS_VOLUME, "mountPath": "/tmp/ray", "readOnly": True}
        assert not mounts["/var/lib/otelcol"].get("readOnly")  # its offsets and queue
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes[RAY_LOGS_VOLUME] == {"name": RAY_LOGS_VOLUME, "emptyDir": {}}


def test_the_collector_runs_unprivileged_as_another_uid_than_ray():
    """A job's code runs as Ray's uid: it cannot write the collector's state or its configuration."""
    for pod in pods(PodLogs("c")).values():
        context = pod["containers"][1]["securityContext"]
        assert context["runAsUser"] != RAY_UID and context["runAsNonRoot"]
        assert context["readOnlyRootFilesystem"] and context["capabilities"] == {"drop": ["ALL"]}
        assert not context["allowPrivilegeEscalation"]


def test_without_logs_the_pods_are_as_before():
    for pod in pods(None).values():
        assert [c["name"] for c in pod["containers"]] in (["ray-head"], ["ray-worker"])
        assert "volumeMounts" not in pod["containers"][0]
        assert RAY_LOGS_VOLUME not in {v["name"] for v in pod.get("volumes", [])}


def test_the_collectors_configuration_names_the_pod_and_sends_to_the_store():
    config = yaml.safe_load(collector_yaml("http://loki.monitoring.svc:3100/otlp", "ray-training-cluster"))
    assert config["exporters"]["otlp_http"]["endpoint"] == "http://loki.monitoring.svc:3100/otlp"
    resource = config["receivers"]["file_log"]["resource"]
    assert resource["ray_io_cluster"] == "ray-training-cluster"
    assert resource["ray_node"] == "${env:RAY_MONITORING_NODE}"
    assert config["extensions"]["file_storage"]["directory"] == "/var/lib/otelcol"
