"""The environment that wires a Ray head's dashboard to Grafana and Prometheus (no Pulumi here).

Ray's dashboard reads these before `ray start`: RAY_GRAFANA_HOST and RAY_PROMETHEUS_HOST are
reached from the head (server side); RAY_GRAFANA_IFRAME_HOST is what the user's browser opens.
"""

from __future__ import annotations

from typing import Any

from components.builders.deferred import Deferred

RECREATE = "upgradeStrategy"


HEADERS_ENV = "RAY_PROMETHEUS_HEADERS"
HEADERS_KEY = "headers"  # the key of the Kubernetes Secret holding RAY_PROMETHEUS_HEADERS
# Ray 2.53+ reads it in every process that records metrics (ray/_private/ray_constants.py); an unknown
# value silently means `legacy` (telemetry/metric_cardinality.py), so the setting only takes these.
CARDINALITY_ENV = "RAY_metric_cardinality_level"
CARDINALITY_LEVELS = ("legacy", "recommended", "low")
RAY_DEFAULT_CARDINALITY = "recommended"


def ray_node_env(cardinality_level: str | None) -> list[dict[str, Any]]:
    """What every Ray node (head and workers) gets: the metric cardinality level when one is set
    (unset: Ray's own default, and nothing added to the nodes)."""
    return [{"name": CARDINALITY_ENV, "value": cardinality_level}] if cardinality_level else []


def ray_head_env(grafana_host: Deferred, prometheus_host: Deferred, datasource_name: str, iframe_host: str,
                 headers_secret: str | None = None, cardinality_level: str | None = None) -> list[dict[str, Any]]:
    """`headers_secret`: a Secret (in the head's namespace) whose `headers` key is RAY_PROMETHEUS_HEADERS,
    for a query endpoint that wants credentials (agent mode); `cardinality_level`: ray_node_env's."""
    env: list[dict[str, Any]] = [
        {"name": "RAY_GRAFANA_HOST", "value": grafana_host},
        {"name": "RAY_PROMETHEUS_HOST", "value": prometheus_host},
        {"name": "RAY_PROMETHEUS_NAME", "value": datasource_name},
        {"name": "RAY_GRAFANA_IFRAME_HOST", "value": iframe_host},
    ]
    env.extend(ray_node_env(cardinality_level))
    if headers_secret:
        env.append({"name": HEADERS_ENV, "valueFrom": {"secretKeyRef": {"name": headers_secret, "key": HEADERS_KEY}}})
    return env


def head_template(head_container: str, env: list[dict[str, Any]]) -> dict[str, Any]:
    """The head pod template a patch applies: the head container's env entries alone."""
    return {"spec": {"containers": [{"name": head_container, "env": env}]}}


def raycluster_patch_spec(template: dict[str, Any], head_restart: str) -> dict[str, Any]:
    """A server-side-apply body for a RayCluster: `template` (head_template's) as its head's.

    KubeRay >= 1.2 declares `containers` and `env` as list-maps keyed by name, so applying this
    merges with the container's other fields and env entries instead of replacing them.
    """
    spec: dict[str, Any] = {"headGroupSpec": {"template": template}}
    if head_restart == RECREATE:
        # KubeRay >= 1.6 recreates the pods when the template changes; otherwise the running head
        # keeps its old environment.
        spec["upgradeStrategy"] = {"type": "Recreate"}
    return spec


def rayservice_patch_spec(template: dict[str, Any]) -> dict[str, Any]:
    """A server-side-apply body for a RayService: `template` as the head's in `spec.rayClusterConfig`
    (list-maps keyed by name in KubeRay's v1 CRD, so entries merge). The RayService controller rolls a
    changed rayClusterConfig out as a new RayCluster (upgradeStrategy NewCluster, its default) and
    switches traffic when it is ready: no restart by hand, and the environment outlives upgrades."""
    return {"rayClusterConfig": {"headGroupSpec": {"template": template}}}


def head_restart_command(cluster: str, namespace: str) -> str:
    """Recreates the head pod by hand (KubeRay starts a new one from the patched template)."""
    return f"kubectl delete pod -n {namespace} -l ray.io/cluster={cluster},ray.io/node-type=head"
