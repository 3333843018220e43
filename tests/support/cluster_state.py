"""What a real cluster holds after `pulumi up`, read through the API server: pods by label, a Deployment's
availability, a container's environment."""

from __future__ import annotations

from typing import Any

from support.control_plane import ControlPlane, condition_true
from support.live import wait_until

RAY_HEAD_VARIABLES = ("RAY_GRAFANA_HOST", "RAY_PROMETHEUS_HOST", "RAY_PROMETHEUS_NAME", "RAY_GRAFANA_IFRAME_HOST")


def pods(plane: ControlPlane, namespace: str, selector: str) -> list[Any]:
    return plane.list("v1", "Pod", namespace, selector)


def running(pod: Any) -> bool:
    return pod.status.phase == "Running" and condition_true(pod.status.conditions, "Ready")


def wait_for_pods(plane: ControlPlane, namespace: str, selector: str, count: int = 1, timeout: float = 180) -> list:
    wait_until(lambda: sum(map(running, pods(plane, namespace, selector))) >= count, timeout,
               f"{count} running pod(s) {selector} in {namespace}", interval=1)
    return [pod for pod in pods(plane, namespace, selector) if running(pod)]


def available(plane: ControlPlane, namespace: str, name: str) -> bool:
    deployment = plane.read("apps/v1", "Deployment", name, namespace)
    return condition_true(deployment.status.conditions, "Available") and \
        deployment.status.availableReplicas == deployment.spec.replicas


def env(container: Any) -> dict[str, Any]:
    """name -> value (or the valueFrom source) of a container's environment."""
    return {item.name: item.value if item.value is not None else item.valueFrom for item in container.env or []}


def container(pod_spec: Any, name: str) -> Any:
    return next(c for c in pod_spec.containers if c.name == name)
