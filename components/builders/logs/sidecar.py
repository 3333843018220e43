"""The log collector beside Ray in every pod of the RayCluster the stack creates (no Pulumi here).

Ray's files are shared through an emptyDir at /tmp/ray named as KubeRay names its own: KubeRay's pod builder
(ray-operator/controllers/ray/common/pod.go, addEmptyDir, v1.5.0 to v1.7.0) mounts a `ray-logs` emptyDir at
/tmp/ray in the Ray container and the autoscaler's only where none is mounted there yet, and reuses a volume
of that name: so on the head the autoscaler's logs land in the same volume, and the collector reads them too.
The collector mounts it read-only; its offsets and export queue live in an emptyDir of its own, which
outlives a restart of either container (not the pod's deletion, which takes Ray's files with it).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from components.builders.logs import collector_config
from components.builders.logs.collector_config import (
    CLUSTER_ENV,
    NODE_ENV,
    NODE_TYPE_ENV,
    RAY_TEMP_DIR,
    CollectorSettings,
)
from components.versions import OTEL_COLLECTOR_IMAGE

COLLECTOR_CONTAINER = "log-collector"
RAY_LOGS_VOLUME = "ray-logs"  # KubeRay's RayLogVolumeName (pod.go)
CLUSTER_LABEL = "ray.io/cluster"  # KubeRay's RayClusterLabelKey, on every pod of a cluster
CONFIG_VOLUME = "log-collector-config"
STATE_VOLUME = "log-collector-state"
CONFIG_NAME = "collector.yaml"  # the ConfigMap's key
AUTHORIZATION_KEY = "authorization"  # the Secret's key: the user's store's Authorization header (logsAuth)
AUTHORIZATION_VOLUME = "log-store-authorization"
AUTHORIZATION_DIR = "/etc/otelcol-store"  # in the collector's container only: Ray's (a job's code) has none
CONFIG_DIR = "/etc/otelcol"
STATE_DIR = "/var/lib/otelcol"
STATE_SIZE = "512Mi"  # the offsets, and the queue of a store that is away for a while
COLLECTOR_UID = 10001  # the contrib image's user (its Dockerfile: USER 10001)
# The memory limiter holds the collector under 200 MiB (collector_config.py): room above it for Go's runtime.
RESOURCES = {"requests": {"cpu": "25m", "memory": "64Mi", "ephemeral-storage": STATE_SIZE},
             "limits": {"cpu": "500m", "memory": "256Mi"}}


@dataclass(frozen=True)
class PodLogs:
    """What a Ray pod's collector runs: the ConfigMap holding CONFIG_NAME (its name, or an Output of it), and
    the Secret holding the store's Authorization header under AUTHORIZATION_KEY when the store wants one."""

    config_map: Any
    authorization_secret: Any = None


def collector_yaml(store_url: str, cluster: str, authorization: bool = False) -> str:
    """The configuration of every Ray pod's collector; the pod's name comes from the downward API.
    `authorization`: the store wants the header the pod's Secret holds."""
    header = f"{AUTHORIZATION_DIR}/{AUTHORIZATION_KEY}" if authorization else None
    return collector_config.render(CollectorSettings(store_url=store_url, cluster=cluster, storage_dir=STATE_DIR,
                                                     authorization_file=header))


def _security_context() -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": COLLECTOR_UID, "runAsGroup": COLLECTOR_UID,
            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "privileged": False,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def collector_container(node_type: str, authorization: bool = False, logs_volume: str = RAY_LOGS_VOLUME,
                        cluster_from_label: bool = False) -> dict[str, Any]:
    """`logs_volume`: the volume Ray's /tmp/ray is on; `cluster_from_label`: the cluster's name is the pod's
    ray.io/cluster label (KubeRay's, on every pod it makes), for a configuration shared by clusters."""
    header = ([{"name": AUTHORIZATION_VOLUME, "mountPath": AUTHORIZATION_DIR, "readOnly": True}]
              if authorization else [])
    cluster = ([{"name": CLUSTER_ENV, "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{CLUSTER_LABEL}']"}}}]
               if cluster_from_label else [])
    return {
        "name": COLLECTOR_CONTAINER,
        "image": OTEL_COLLECTOR_IMAGE,
        "args": [f"--config={CONFIG_DIR}/{CONFIG_NAME}"],
        "env": [{"name": NODE_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": NODE_TYPE_ENV, "value": node_type}, *cluster],
        "resources": copy.deepcopy(RESOURCES),
        "securityContext": _security_context(),
        "volumeMounts": [
            {"name": logs_volume, "mountPath": RAY_TEMP_DIR, "readOnly": True},
            {"name": CONFIG_VOLUME, "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": STATE_VOLUME, "mountPath": STATE_DIR},
            *header,
        ],
    }


def collector_volumes(logs: PodLogs) -> list[dict[str, Any]]:
    """The collector's own volumes: its configuration, its state, and the store's header when there is one."""
    volumes = [{"name": CONFIG_VOLUME, "configMap": {"name": logs.config_map}},
               {"name": STATE_VOLUME, "emptyDir": {"sizeLimit": STATE_SIZE}}]
    if logs.authorization_secret is not None:
        # Readable by the collector's user (the volume's files are root's), in no other container.
        volumes.append({"name": AUTHORIZATION_VOLUME, "secret": {
            "secretName": logs.authorization_secret, "defaultMode": 0o444}})
    return volumes


def with_log_collector(pod_spec: dict[str, Any], node_type: str, logs: PodLogs) -> dict[str, Any]:
    """`pod_spec` (its first container Ray's, as KubeRay expects) with Ray's /tmp/ray on the shared volume
    and the collector right after Ray's container (KubeRay appends the autoscaler after them)."""
    spec = dict(pod_spec)  # copied by level, not deep: the spec may hold Outputs (a Secret's name)
    first, *others = spec["containers"]
    ray = {**first, "volumeMounts": [*first.get("volumeMounts", []),
                                     {"name": RAY_LOGS_VOLUME, "mountPath": RAY_TEMP_DIR}]}
    spec["containers"] = [ray, collector_container(node_type, logs.authorization_secret is not None), *others]
    spec["volumes"] = [*spec.get("volumes", []),
                       {"name": RAY_LOGS_VOLUME, "emptyDir": {}},  # unbounded, as KubeRay makes it
                       *collector_volumes(logs)]
    return spec
