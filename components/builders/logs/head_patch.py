"""The log collector added to the head of a RayCluster or RayService the stack patches (no Pulumi here).

Server-side apply merges it into the user's head: KubeRay's CRD (v1.7.0) declares the head template's
`containers` and `volumes` list-maps keyed by name, and a container's `volumeMounts` keyed by mountPath, so
the collector, its volumes and the Ray container's /tmp/ray mount join the user's own entries, and go again
with the stack's other fields when logs are turned off or the stack is destroyed (a manager's apply removes
only what it applied before). `workerGroupSpecs` is an atomic list: applying a worker's container would own
the whole list, every worker group and the replicas Ray's autoscaler sets, so workers are not patched.
"""

from __future__ import annotations

from typing import Any

from components.builders.logs.collector_config import RAY_TEMP_DIR
from components.builders.logs.sidecar import RAY_LOGS_VOLUME, PodLogs, collector_container, collector_volumes

# On the patched heads' pods (KubeRay copies the template's labels to them): Loki admits these.
SHIPPER_LABEL = "ray-monitoring/log-collector"
SHIPPER_LABELS = {SHIPPER_LABEL: "head"}


def ray_logs_volume(head_spec: dict[str, Any], head_container: str) -> tuple[str, bool]:
    """The volume Ray's /tmp/ray is on in the user's head pod spec as it is, and whether the patch declares it.

    Nothing mounted there: the stack's emptyDir `ray-logs` and the Ray container's mount of it, declared (and
    found again, as the stack's, by the next run). Another volume (a Fluent Bit sidecar's, a claim): the
    collector reads that one, and the user's mount and volume stay the user's."""
    container: dict[str, Any] = next(
        (c for c in head_spec.get("containers") or [] if c.get("name") == head_container), {})
    mounted = next((m.get("name") for m in container.get("volumeMounts") or []
                    if (m.get("mountPath") or "").rstrip("/") == RAY_TEMP_DIR), None)
    if mounted is None:
        return RAY_LOGS_VOLUME, True
    volume: dict[str, Any] = next((v for v in head_spec.get("volumes") or [] if v.get("name") == mounted), {})
    return mounted, mounted == RAY_LOGS_VOLUME and set(volume) <= {"name", "emptyDir"}


def with_head_collector(template: dict[str, Any], head_spec: dict[str, Any], head_container: str,
                        logs: PodLogs) -> dict[str, Any]:
    """`template` (an apply body's head template: the head container's name and env) with the collector beside
    the Ray container, after it in the apply (KubeRay takes the first container for Ray's)."""
    volume, declared = ray_logs_volume(head_spec, head_container)
    ray, *others = template["spec"]["containers"]
    if declared:
        ray = {**ray, "volumeMounts": [{"name": RAY_LOGS_VOLUME, "mountPath": RAY_TEMP_DIR}]}
    collector = collector_container("head", logs.authorization_secret is not None, logs_volume=volume,
                                    cluster_from_label=True)
    volumes = ([{"name": RAY_LOGS_VOLUME, "emptyDir": {}}] if declared else []) + collector_volumes(logs)
    metadata = template.get("metadata", {})
    return {**template,
            "metadata": {**metadata, "labels": {**metadata.get("labels", {}), **SHIPPER_LABELS}},
            "spec": {**template["spec"], "containers": [ray, collector, *others],
                     "volumes": [*template["spec"].get("volumes", []), *volumes]}}
