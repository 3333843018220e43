"""Labels, security contexts, resources and storage shared by the Kubernetes components."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.builders.sizing import bytes_of

PART_OF = "ray-monitoring"


@dataclass(frozen=True)
class Resources:
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


@dataclass(frozen=True)
class Storage:
    """emptyDir when `persistent` is false; otherwise a PersistentVolumeClaim."""

    persistent: bool
    size: str
    storage_class: str | None
    size_configured: bool = False  # the user's size (else the sizing model's, which may move)


def selector_labels(app: str, instance: str) -> dict[str, str]:
    """Labels a selector may use: never the version, since selectors are immutable."""
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": instance}


def labels(app: str, instance: str, component: str, version: str | None = None) -> dict[str, str]:
    result = {
        **selector_labels(app, instance),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    }
    if version is not None:
        # Label values allow [-._a-zA-Z0-9] only: "v3.13.2" from "prom/prometheus:v3.13.2".
        result["app.kubernetes.io/version"] = version
    return result


def made_by_stack(object_labels: dict[str, str] | None) -> bool:
    """Whether an object carries the labels `labels()` gives what this project creates."""
    return (object_labels or {}).get("app.kubernetes.io/part-of") == PART_OF


def image_version(image: str) -> str:
    return image.rsplit(":", 1)[1]


def pod_security_context(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources(spec: Resources, volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """`volumes`: the pod's (its only container's). Its emptyDirs are node disk the pod must ask for, or a
    scheduler that counts it (GKE Autopilot gives 1Gi when unasked) evicts the pod once they outgrow that."""
    requests = {"cpu": spec.cpu_request, "memory": spec.memory_request}
    scratch = sum(bytes_of(v["emptyDir"]["sizeLimit"]) for v in volumes or [] if "emptyDir" in v)
    if scratch:
        requests["ephemeral-storage"] = f"{math.ceil(scratch / 2**20)}Mi"
    return {"requests": requests, "limits": {"cpu": spec.cpu_limit, "memory": spec.memory_limit}}


def storage_volume(volume_name: str, storage: Storage, claim_name: str | None) -> dict[str, Any]:
    """A pod volume: the PersistentVolumeClaim `claim_name` or an emptyDir capped at the size."""
    if storage.persistent:
        return {"name": volume_name, "persistentVolumeClaim": {"claimName": claim_name}}
    return {"name": volume_name, "emptyDir": {"sizeLimit": storage.size}}


def claim_spec(storage: Storage) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage.size}},
    }
    if storage.storage_class:
        spec["storageClassName"] = storage.storage_class
    return spec



def service_url(service: str, namespace: str, port: int) -> str:
    """In-cluster URL of a Service whose name is fixed, so it is known before deploy."""
    return f"http://{service}.{namespace}.svc:{port}"


def child_options(parent: pulumi.Resource, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """Children are parented to the component and wait for what the component waits for
    (the namespace, when the stack creates it); no other caller option leaks into them."""
    return pulumi.ResourceOptions(parent=parent, depends_on=opts.depends_on if opts else None)


def single_pod_deployment(selector: dict[str, Any], labels: dict[str, Any], annotations: dict[str, Any],
                          pod_spec: dict[str, Any]) -> dict[str, Any]:
    """One replica, replaced rather than rolled: its volume holds a database one process may open."""
    return {
        "replicas": 1,
        "strategy": {"type": "Recreate"},
        "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod_spec},
    }


def ingress_policy(selector: dict[str, Any], port: str, peers: list[dict[str, Any]] | None) -> dict[str, Any]:
    """NetworkPolicy spec admitting only `port`, from `peers` (None: from anywhere)."""
    rule: dict[str, Any] = {"ports": [{"port": port, "protocol": "TCP"}]}
    if peers is not None:
        rule["from"] = peers
    return {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"], "ingress": [rule]}


def http_service(name: str, namespace: str, labels: dict[str, Any], selector: dict[str, Any], port: int,
                 peers: list[dict[str, Any]] | None, opts: pulumi.ResourceOptions, service_type: str = "ClusterIP",
                 node_port: int | None = None, source_ranges: tuple[str, ...] = ()) -> k8s.core.v1.Service:
    """The pod's `http` port behind a Service named `name`, and a NetworkPolicy that admits only
    `peers` to it (None: any client the Service lets in) and nothing else."""
    metadata = {"name": name, "namespace": namespace, "labels": labels}
    k8s.networking.v1.NetworkPolicy(f"{name}-network-policy", metadata=metadata,
                                    spec=ingress_policy(selector, "http", peers), opts=opts)
    service_port: dict[str, Any] = {"name": "http", "port": port, "targetPort": "http"}
    if node_port is not None:
        service_port["nodePort"] = node_port
    spec: dict[str, Any] = {"type": service_type, "selector": selector, "ports": [service_port]}
    if source_ranges:
        spec["loadBalancerSourceRanges"] = list(source_ranges)
    return k8s.core.v1.Service(f"{name}-service", metadata=metadata, spec=spec, opts=opts)
