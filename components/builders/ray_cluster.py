"""The RayCluster the minikube stack creates when asked (no Pulumi here): monitoring wired in from the
start, so no patch and no head restart is ever needed.

- the head carries the RAY_* environment (components.builders.ray_head_env);
- every Ray container declares the metrics port, and the head also the autoscaler's and the
  dashboard's metrics ports, so PodMonitors and port-forwards can name them;
- KubeRay's in-tree autoscaler scales one worker group between its min and max, so workers that
  join later exercise Prometheus' discovery.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from components.builders.logs.sidecar import PodLogs, with_log_collector
from components.constants import (
    RAY_AUTOSCALER_METRICS_PORT,
    RAY_DASHBOARD_METRICS_PORT,
    RAY_DASHBOARD_PORT,
    RAY_GCS_PORT,
    RAY_METRICS_PORT,
    RAY_UID,
)

WORKER_CONTAINER = "ray-worker"
WORKER_GROUP = "workers"
RAY_CLIENT_PORT = 10001
# The autoscaler sidecar KubeRay adds to the head: smaller than KubeRay's default (500m / 512Mi),
# which would not leave room for a worker on a 4-CPU minikube.
AUTOSCALER_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
AUTOSCALER_IDLE_SECONDS = 60


@dataclass(frozen=True)
class RayNodeSize:
    """A Ray container's CPU and memory; requests equal limits, as KubeRay recommends for Ray."""

    cpu: str
    memory: str


@dataclass(frozen=True)
class RayClusterShape:
    image: str
    head: RayNodeSize
    worker: RayNodeSize
    worker_min_replicas: int
    worker_max_replicas: int
    # Where Ray pods may run (e.g. {"kubernetes.io/arch": "amd64"} on a cluster that also has arm64 nodes).
    node_selector: dict[str, str] | None = None


@dataclass(frozen=True)
class ScaledWorkers:
    """The worker group as Ray's autoscaler last left it on the live RayCluster: its JSON patches set these
    two fields (ray/autoscaler/_private/kuberay/node_provider.py), and a later `pulumi up` keeps them."""

    replicas: int
    scale_strategy: dict[str, Any] | None = None


def ray_version_of(image: str) -> str | None:
    """The Ray version in a rayproject/ray-style tag (2.60.0, 2.60.0-py311-cpu), or None."""
    name = image.split("@", 1)[0]  # a digest pins the content; the tag still names the version
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
    match = re.match(r"^(\d+\.\d+\.\d+)(-|$)", tag)
    return match.group(1) if match else None


# Where Ray's KubeRay node provider (the autoscaler) reads its ServiceAccount's token and CA
# (ray/autoscaler/_private/kuberay/node_provider.py: IN_CLUSTER_TOKEN_PATH, IN_CLUSTER_CA_CERT_PATH).
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
AUTOSCALER_TOKEN_VOLUME = "autoscaler-token"
# What the kubelet's own automount requests (the API server's BoundServiceAccountTokenVolume default).
TOKEN_EXPIRATION_SECONDS = 3607


def _autoscaler_token_volume() -> dict[str, Any]:
    """The volume the API server's ServiceAccount admission would mount in every container of the head,
    mounted here in the autoscaler's only: a job's driver, in the Ray container, holds no Kubernetes token."""
    return {"name": AUTOSCALER_TOKEN_VOLUME, "projected": {"defaultMode": 0o444, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": TOKEN_EXPIRATION_SECONDS}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
    ]}}


def _pod_spec(container: dict[str, Any], shape: RayClusterShape) -> dict[str, Any]:
    # No token in Ray's containers: workers need none, the head's autoscaler gets its own mount.
    spec: dict[str, Any] = {"containers": [container], "automountServiceAccountToken": False}
    if shape.node_selector:
        spec["nodeSelector"] = dict(shape.node_selector)
    return spec


def _container_security_context() -> dict[str, Any]:
    # Ray writes its session files under /tmp and its home: the root filesystem stays writable.
    return {
        "runAsNonRoot": True,
        "runAsUser": RAY_UID,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _resources(size: RayNodeSize) -> dict[str, Any]:
    amount = {"cpu": size.cpu, "memory": size.memory}
    return {"requests": dict(amount), "limits": dict(amount)}


def _replicas(shape: RayClusterShape, scaled: ScaledWorkers | None) -> int:
    """The autoscaler's count where there is one, within the group's (possibly new) bounds; else the minimum."""
    if scaled is None:
        return shape.worker_min_replicas
    return min(max(scaled.replicas, shape.worker_min_replicas), shape.worker_max_replicas)


def _logical_cpus(cpu: str) -> str:
    """The CPUs Ray schedules on a worker: at least one, so a fractional container still runs tasks."""
    cores = float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    return str(max(1, math.ceil(cores)))


TOKEN_KEY = "auth_token"  # the key KubeRay's own token Secrets use (samples/ray-cluster.auth-manual.yaml)


def token_auth_env(secret_name: Any) -> list[dict[str, Any]]:
    """Ray's token authentication (Ray 2.52+) on a container: token mode, the token from a Secret, as
    KubeRay's sample ray-cluster.auth-manual.yaml sets it on every Ray container."""
    return [{"name": "RAY_AUTH_MODE", "value": "token"},
            {"name": "RAY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {"name": secret_name, "key": TOKEN_KEY}}}]


def ray_cluster_spec(shape: RayClusterShape, head_container: str, head_env: list[dict[str, Any]],
                     token_secret: Any = None, worker_env: list[dict[str, Any]] | None = None,
                     scaled: ScaledWorkers | None = None, logs: PodLogs | None = None) -> dict[str, Any]:
    """`spec` of a ray.io/v1 RayCluster, valid against KubeRay v1.7.0's CRD. `token_secret`: the name (or its
    Output) of a Secret holding Ray's token (TOKEN_KEY): token authentication on the head, the workers and the
    autoscaler.
    `worker_env`: what every worker gets besides the token (ray_head_env.ray_node_env). `scaled`: what the
    autoscaler set on the live cluster, kept (its replicas within the new bounds). `logs`: every pod's log
    collector (components.builders.logs.sidecar)."""
    metrics = {"name": "metrics", "containerPort": RAY_METRICS_PORT}

    def pod(container: dict[str, Any], node_type: str, **more: Any) -> dict[str, Any]:
        spec = {**_pod_spec(container, shape), **more}
        return with_log_collector(spec, node_type, logs) if logs else spec

    token_env = token_auth_env(token_secret) if token_secret is not None else []
    head = {
        "name": head_container,
        "image": shape.image,
        "env": [*head_env, *token_env],
        "ports": [
            {"name": "gcs-server", "containerPort": RAY_GCS_PORT},
            {"name": "dashboard", "containerPort": RAY_DASHBOARD_PORT},
            {"name": "client", "containerPort": RAY_CLIENT_PORT},
            metrics,
            {"name": "as-metrics", "containerPort": RAY_AUTOSCALER_METRICS_PORT},
            {"name": "dash-metrics", "containerPort": RAY_DASHBOARD_METRICS_PORT},
        ],
        "resources": _resources(shape.head),
        "securityContext": _container_security_context(),
    }
    worker = {
        "name": WORKER_CONTAINER,
        "image": shape.image,
        **({"env": [*(worker_env or []), *token_env]} if worker_env or token_env else {}),
        "ports": [metrics],
        "resources": _resources(shape.worker),
        "securityContext": _container_security_context(),
    }
    spec: dict[str, Any] = {
        # KubeRay (1.6+) recreates the pods only with Recreate when the template changes: without it a
        # changed image, size or RAY_* variable would reach the object but never the running pods.
        "upgradeStrategy": {"type": "Recreate"},
        "enableInTreeAutoscaling": True,
        "autoscalerOptions": {
            "upscalingMode": "Default",
            "idleTimeoutSeconds": AUTOSCALER_IDLE_SECONDS,
            "resources": AUTOSCALER_RESOURCES,
            "securityContext": _container_security_context(),
            "volumeMounts": [{"name": AUTOSCALER_TOKEN_VOLUME, "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True}],
            # The autoscaler talks to the GCS, which wants the token too.
            **({"env": token_env} if token_env else {}),
        },
        "headGroupSpec": {
            # No tasks on the head: it runs GCS, the dashboard and the autoscaler.
            "rayStartParams": {"num-cpus": "0", "metrics-export-port": str(RAY_METRICS_PORT)},
            "template": {"spec": pod(head, "head", volumes=[_autoscaler_token_volume()])},
        },
        "workerGroupSpecs": [{
            "groupName": WORKER_GROUP,
            "replicas": _replicas(shape, scaled),
            "minReplicas": shape.worker_min_replicas,
            "maxReplicas": shape.worker_max_replicas,
            "rayStartParams": {"num-cpus": _logical_cpus(shape.worker.cpu),
                               "metrics-export-port": str(RAY_METRICS_PORT)},
            "template": {"spec": pod(worker, "worker")},
        }],
    }
    if scaled and scaled.scale_strategy:
        spec["workerGroupSpecs"][0]["scaleStrategy"] = scaled.scale_strategy
    version = ray_version_of(shape.image)
    if version:
        spec["rayVersion"] = version
    return spec
