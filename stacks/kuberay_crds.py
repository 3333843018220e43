"""KubeRay's CRDs as the cluster has them, read before anything is created. Helm installs a chart's CRDs on
first install only and never upgrades them, and the API server prunes, without an error, every field its
installed structural schema does not know: a RayCluster applied with `upgradeStrategy` to KubeRay 1.5's CRD
is stored without it, and KubeRay never recreates the pods the stack changed."""

from __future__ import annotations

import json
from typing import Any

from components.versions import KUBERAY_VERSION
from stacks.preflight import REQUEST_TIMEOUT, ClusterAccess, cluster_api
from stacks.settings import ConfigError, KubernetesSettings, describe_problem
from stacks.settings.kubernetes import CreatedCluster

RAYCLUSTERS = "rayclusters.ray.io"
# The fields the stack sets that older CRDs lack, and the KubeRay release that added them.
UPGRADE_STRATEGY = (("upgradeStrategy",), "1.6.0")
# As KubeRay's own upgrade test does (ray-operator/test/e2eupgrade/rayservice_operator_upgrade_test.go).
CRD_FIX = (f"upgrade KubeRay's CRDs to {KUBERAY_VERSION} (Helm does not): kubectl replace -k "
           f"\"github.com/ray-project/kuberay/ray-operator/config/crd?ref=v{KUBERAY_VERSION}\"")


def installed_raycluster_schema(access: ClusterAccess) -> dict[str, Any] | None:
    """`spec`'s schema of ray.io/v1 RayCluster as the API server has it; None when the CRD is not installed."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        reply: Any = client.ApiextensionsV1Api(cluster_api(access).api_client).read_custom_resource_definition(
            RAYCLUSTERS, _request_timeout=REQUEST_TIMEOUT, _preload_content=False)
    except ApiException as error:
        if error.status in (403, 404):  # not installed yet (installKubeRay installs it), or not ours to read
            return None
        raise
    crd = json.loads(reply.data)  # raw: the client's models drop the schema's x-kubernetes-* keys
    for version in crd.get("spec", {}).get("versions", []):
        if version.get("name") == "v1":
            schema: dict[str, Any] = version.get("schema", {}).get("openAPIV3Schema", {})
            spec: dict[str, Any] | None = schema.get("properties", {}).get("spec")
            return spec
    return None

def _knows(schema: dict[str, Any], path: tuple[str, ...]) -> bool:
    for name in path:
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return True
        schema = (schema.get("properties") or {}).get(name)  # type: ignore[assignment]
        if schema is None:
            return False
    return True


def check_kuberay_crds(s: KubernetesSettings, access: ClusterAccess) -> None:
    """Refuse, naming the setting that needs it, a field the installed RayCluster CRD would drop."""
    created = isinstance(s.ray, CreatedCluster)
    if not created and s.ray.head_restart != "upgradeStrategy":  # type: ignore[union-attr]
        return
    schema = installed_raycluster_schema(access)
    (path, since) = UPGRADE_STRATEGY
    if schema is None or _knows(schema, path):
        return
    key, value = ("createRayCluster", True) if created else ("headRestart", "upgradeStrategy")
    raise ConfigError([describe_problem(
        key, value, f"needs spec.{'.'.join(path)} (KubeRay {since}+), which the cluster's RayCluster CRD does not "
        "have (KubeRay older than that installed it): the API server would drop it without an error, and KubeRay "
        "would never recreate the pods a change reaches", CRD_FIX
        + ("" if created else "; or pulumi config set headRestart none and restart heads yourself"))])
