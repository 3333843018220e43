"""What the minikube stack changes but does not own, read from the cluster before anything is
registered: the RayCluster it patches must exist and have the head container it names. Without this,
server-side apply would add an image-less container to the head template and break the cluster.

Runs in `pulumi preview` and `pulumi up` alike, with the kubeconfig and context the Kubernetes
provider uses (`kubernetes:kubeconfig`, `kubernetes:context`, else KUBECONFIG or ~/.kube/config).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from stacks.settings import ConfigError, KubernetesSettings, describe_problem

RAY_GROUP, RAY_VERSION, RAY_CLUSTERS = "ray.io", "v1", "rayclusters"
REQUEST_TIMEOUT = 15  # seconds per API call: a preview never hangs on an unreachable cluster


@dataclass(frozen=True)
class ClusterAccess:
    """How to reach the API server: the Kubernetes provider's own settings, when given."""

    kubeconfig: str | None = None  # a path or the kubeconfig itself, as `kubernetes:kubeconfig` takes it
    context: str | None = None


def _api(access: ClusterAccess):
    from kubernetes import client, config

    if access.kubeconfig and access.kubeconfig.lstrip().startswith(("apiVersion", "{", "clusters")):
        api_client = config.new_client_from_config_dict(yaml.safe_load(access.kubeconfig), context=access.context)
    else:
        # Read KUBECONFIG now (the client reads it once, at import); it may list several files.
        files = access.kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        api_client = config.new_client_from_config(config_file=files, context=access.context)
    return client.CustomObjectsApi(api_client)


def _unreachable(s: KubernetesSettings, error: Exception) -> ConfigError:
    return ConfigError([describe_problem(
        "rayClusterName", s.ray_cluster_name,
        f"could not be read from the cluster to check it before patching ({type(error).__name__}: "
        f"{str(error).splitlines()[0] if str(error) else 'no detail'})",
        "point kubectl at the cluster (`kubectl get rayclusters -n "
        f"{s.ray_cluster_namespace}` must work), or set kubernetes:context / kubernetes:kubeconfig")])


def _existing_clusters(api) -> list[str]:
    """namespace/name of every RayCluster the caller may list, for the error message; [] if none or not allowed."""
    from kubernetes.client.exceptions import ApiException

    try:
        found = api.list_cluster_custom_object(RAY_GROUP, RAY_VERSION, RAY_CLUSTERS, _request_timeout=REQUEST_TIMEOUT)
    except ApiException:
        return []
    return sorted(f"{c['metadata']['namespace']}/{c['metadata']['name']}" for c in found.get("items", []))


def check_patch_target(s: KubernetesSettings, access: ClusterAccess) -> dict[str, Any]:
    """The RayCluster to patch, after checking it exists and has the head container; ConfigError if not."""
    from kubernetes.client.exceptions import ApiException

    try:
        api = _api(access)
        cluster = api.get_namespaced_custom_object(RAY_GROUP, RAY_VERSION, s.ray_cluster_namespace, RAY_CLUSTERS,
                                                   s.ray_cluster_name, _request_timeout=REQUEST_TIMEOUT)
    except ApiException as error:
        if error.status != 404:
            raise _unreachable(s, error) from error
        existing = _existing_clusters(api)
        found = f"RayClusters found: {', '.join(existing)}" if existing else "no RayCluster was found at all"
        raise ConfigError([describe_problem(
            "rayClusterName", s.ray_cluster_name,
            f"no RayCluster {s.ray_cluster_name!r} in namespace {s.ray_cluster_namespace!r} "
            f"(rayClusterNamespace) to patch; {found}",
            "pulumi config set rayClusterName NAME and rayClusterNamespace NAMESPACE for an existing RayCluster "
            "(kubectl get rayclusters -A)")]) from None
    except Exception as error:  # no kubeconfig, connection refused, TLS, an auth plugin that failed
        raise _unreachable(s, error) from error

    containers = [c.get("name") for c in
                  cluster.get("spec", {}).get("headGroupSpec", {}).get("template", {}).get("spec", {})
                  .get("containers", [])]
    if s.ray_head_container not in containers:
        suggestion = containers[0] if containers else "NAME"
        raise ConfigError([describe_problem(
            "rayHeadContainer", s.ray_head_container,
            f"RayCluster {s.ray_cluster_namespace}/{s.ray_cluster_name} has no head container by that name; "
            f"its head containers are: {', '.join(map(str, containers)) or 'none'}",
            f"pulumi config set rayHeadContainer {suggestion}")])
    return cluster
