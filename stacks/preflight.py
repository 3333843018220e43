"""What the minikube stack changes but does not own, read from the cluster before anything is
registered: each RayCluster or RayService it patches must exist and have the head container it names.
Without this, server-side apply would add an image-less container to the head template and break
the cluster.

Runs in `pulumi preview` and `pulumi up` alike, with the kubeconfig and context the Kubernetes
provider uses (`kubernetes:kubeconfig`, `kubernetes:context`, else KUBECONFIG or ~/.kube/config).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from components.builders.ray_cluster import WORKER_GROUP, ScaledWorkers
from components.kubernetes.common import made_by_stack
from stacks.settings import ConfigError, describe_problem
from stacks.settings.existing_clusters import PatchTarget

RAY_GROUP, RAY_VERSION = "ray.io", "v1"
REQUEST_TIMEOUT = 15  # seconds per API call: a preview never hangs on an unreachable cluster


@dataclass(frozen=True)
class ClusterAccess:
    """How to reach the API server: the Kubernetes provider's own settings, when given."""

    kubeconfig: str | None = None  # a path or the kubeconfig itself, as `kubernetes:kubeconfig` takes it
    context: str | None = None


def cluster_api(access: ClusterAccess) -> Any:
    from kubernetes import client, config

    if access.kubeconfig and access.kubeconfig.lstrip().startswith(("apiVersion", "{", "clusters")):
        api_client = config.new_client_from_config_dict(  # type: ignore[no-untyped-call]
            yaml.safe_load(access.kubeconfig), context=access.context)
    else:
        # Read KUBECONFIG now (the client reads it once, at import); it may list several files.
        files = access.kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=files, context=access.context)
    return client.CustomObjectsApi(api_client)


PLURALS = {"RayCluster": "rayclusters", "RayService": "rayservices"}
CLUSTER_FIX = ("start the cluster (minikube start writes ~/.kube/config), or point kubectl at yours: `kubectl get "
               "nodes` must work; or pulumi config set kubernetes:context NAME (kubernetes:kubeconfig PATH)")


def check_cluster_answers(access: ClusterAccess) -> None:
    """Before any setting is blamed: an API server answers with the provider's kubeconfig and context.
    Any HTTP answer counts (a 403 too: the checks that follow say what is not allowed)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    key, value = (("kubernetes:context", access.context) if access.context else
                  ("kubernetes:kubeconfig", "<inline>" if access.kubeconfig and "\n" in access.kubeconfig
                   else access.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"))
    try:
        api = cluster_api(access)
    except (ConfigException, OSError) as error:
        raise ConfigError([describe_problem(key, value, f"names no cluster to reach ({_first_line(error)})",
                                            CLUSTER_FIX)]) from None
    try:
        client.VersionApi(api.api_client).get_code(_request_timeout=REQUEST_TIMEOUT)
    except ApiException:
        return
    except Exception as error:  # noqa: BLE001 no HTTP answer at all: refused, timed out, no route, bad TLS
        raise ConfigError([describe_problem(
            key, value, f"points at {api.api_client.configuration.host}, where no Kubernetes API server answers "
            f"({type(error).__name__}): is the cluster running?", CLUSTER_FIX)]) from None


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _unreachable(target: PatchTarget, error: Exception) -> ConfigError:
    return _unreadable(target.kind, target.name, target.namespace, error)


def _unreadable(kind: str, name: str, namespace: str, error: Exception) -> ConfigError:
    return ConfigError([describe_problem(
        "rayClusterName", name,
        f"the {kind} could not be read from the cluster to check it ({type(error).__name__}: "
        f"{_first_line(error) if str(error) else 'no detail'})",
        f"point kubectl at the cluster (`kubectl get {PLURALS[kind]} -n {namespace}` must work), "
        "or set kubernetes:context / kubernetes:kubeconfig")])


def _existing(api: Any, kind: str) -> list[str]:
    """namespace/name of every object of `kind` the caller may list, for the error message; [] if not allowed."""
    from kubernetes.client.exceptions import ApiException

    try:
        found = api.list_cluster_custom_object(RAY_GROUP, RAY_VERSION, PLURALS[kind], _request_timeout=REQUEST_TIMEOUT)
    except ApiException:
        return []
    return sorted(f"{c['metadata']['namespace']}/{c['metadata']['name']}" for c in found.get("items", []))


def head_containers(kind: str, obj: dict[str, Any]) -> list[str]:
    spec = obj.get("spec", {})
    if kind == "RayService":
        spec = spec.get("rayClusterConfig", {})
    return [c.get("name") for c in spec.get("headGroupSpec", {}).get("template", {}).get("spec", {})
            .get("containers", [])]


def _check_one(api: Any, target: PatchTarget, single: bool) -> dict[str, Any]:
    from kubernetes.client.exceptions import ApiException

    key = "rayClusterName" if single else "rayClusters"
    try:
        obj: dict[str, Any] = api.get_namespaced_custom_object(
            RAY_GROUP, RAY_VERSION, target.namespace, PLURALS[target.kind], target.name,
            _request_timeout=REQUEST_TIMEOUT)
    except ApiException as error:
        if error.status != 404:
            raise _unreachable(target, error) from error
        existing = _existing(api, target.kind)
        found = f"{target.kind}s found: {', '.join(existing)}" if existing else f"no {target.kind} was found at all"
        fix = ("pulumi config set rayClusterName NAME and rayClusterNamespace NAMESPACE for an existing RayCluster "
               "(kubectl get rayclusters -A)" if single else
               f"list existing objects in rayClusters (kubectl get {PLURALS[target.kind]} -A)")
        raise ConfigError([describe_problem(
            key, target.name,
            f"no {target.kind} {target.name!r} in namespace {target.namespace!r} (rayClusterNamespace) to patch; "
            f"{found}", fix)]) from None
    if target.kind == "RayCluster":
        _refuse_owned(obj, target, key)
    containers = head_containers(target.kind, obj)
    if target.head_container not in containers:
        suggestion = containers[0] if containers else "NAME"
        raise ConfigError([describe_problem(
            "rayHeadContainer" if single else "rayClusters", target.head_container,
            f"{target.kind} {target.namespace}/{target.name} has no head container by that name; "
            f"its head containers are: {', '.join(map(str, containers)) or 'none'}",
            f"pulumi config set rayHeadContainer {suggestion}" if single else
            f"pulumi config set --path 'rayClusters[N].headContainer' {suggestion}")])
    return obj


# KubeRay labels a RayCluster it makes for a RayService or RayJob with the kind and name of its owner
# (ray-operator/controllers/ray/utils/constant.go, RayOriginatedFromCRDLabelKey / ...CRNameLabelKey).
ORIGIN_KIND, ORIGIN_NAME = "ray.io/originated-from-crd", "ray.io/originated-from-cr-name"
OWNERS = ("RayService", "RayJob")


def owner_of(obj: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the RayService or RayJob that made this RayCluster; None for one a user made."""
    metadata = obj.get("metadata", {})
    labels = metadata.get("labels") or {}
    if labels.get(ORIGIN_KIND) in OWNERS:
        return labels[ORIGIN_KIND], labels.get(ORIGIN_NAME, "?")
    for reference in metadata.get("ownerReferences") or []:
        if reference.get("kind") in OWNERS:
            return reference["kind"], reference.get("name", "?")
    return None


def _refuse_owned(obj: dict[str, Any], target: PatchTarget, key: str) -> None:
    """A RayCluster a RayService or RayJob made must not be patched: KubeRay refuses spec.upgradeStrategy
    on it and stops reconciling it (the cluster freezes), and its owner overwrites the patch anyway."""
    owner = owner_of(obj)
    if owner is None:
        return
    kind, name = owner
    fix = (f"patch the RayService instead: pulumi config set --path 'rayClusters[0].kind' RayService and "
           f"--path 'rayClusters[0].name' {name}" if kind == "RayService" else
           "a RayJob makes a cluster per job: paste the rayJobHeadEnv stack output into its rayClusterSpec, "
           "and remove this RayCluster from rayClusters")
    raise ConfigError([describe_problem(
        key, target.name, f"RayCluster {target.namespace}/{target.name} belongs to {kind} {name}: KubeRay stops "
        "reconciling such a cluster when it is patched with upgradeStrategy, and its owner replaces it", fix)])


def check_patch_targets(targets: tuple[PatchTarget, ...], access: ClusterAccess) -> list[dict[str, Any]]:
    """Each RayCluster / RayService to patch, after checking it exists and has its head container;
    ConfigError naming the key, the value and the fix if not."""
    try:
        api = cluster_api(access)
    except Exception as error:  # no kubeconfig, a context that does not exist
        raise _unreachable(targets[0], error) from error
    found = []
    for target in targets:
        try:
            found.append(_check_one(api, target, single=len(targets) == 1 and target.resource_name == "ray-cluster"))
        except ConfigError:
            raise
        except Exception as error:  # connection refused, TLS, an auth plugin that failed
            raise _unreachable(target, error) from error
    return found


ARCH_LABEL = "kubernetes.io/arch"  # set by the kubelet on every node (amd64, arm64, ...)


def node_labels(access: ClusterAccess) -> list[dict[str, str]] | None:
    """Each node's labels; None when nodes cannot be listed (not allowed: check_cluster_answers has seen the
    API server answer)."""
    from kubernetes import client

    try:
        nodes = client.CoreV1Api(cluster_api(access).api_client).list_node(_request_timeout=REQUEST_TIMEOUT).items
    except Exception:  # noqa: BLE001 an unreachable cluster or a forbidden list: nothing to decide from
        return None
    return [dict((node.metadata and node.metadata.labels) or {}) for node in nodes]


def node_architectures(labels: list[dict[str, str]] | None) -> set[str] | None:
    """The CPU architectures of the nodes (`node_labels`); None when unknown: the caller keeps its default."""
    return {node.get(ARCH_LABEL, "") for node in labels} - {""} or None if labels is not None else None


def namespace_labels(access: ClusterAccess, name: str) -> dict[str, str] | None:
    """The labels of namespace `name`; None when it does not exist (the stack may then create it)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        found = client.CoreV1Api(cluster_api(access).api_client).read_namespace(name, _request_timeout=REQUEST_TIMEOUT)
    except ApiException as error:
        if error.status == 404:
            return None
        raise ConfigError([describe_problem(
            "kuberayNamespace", name, f"the namespace could not be read ({error.status} {error.reason})",
            f"use credentials that may `kubectl get namespace {name}` (installing KubeRay needs more than that)")]
        ) from None
    return dict((found.metadata and found.metadata.labels) or {})


def scaled_workers(access: ClusterAccess, name: str, namespace: str) -> ScaledWorkers | None:
    """The RayCluster the stack creates, as it runs (None before the first `pulumi up`): its worker group's
    replicas and scaleStrategy, which Ray's autoscaler sets. One of that name the stack did not create is
    refused: the stack's apply would take it over."""
    from kubernetes.client.exceptions import ApiException

    try:
        live = cluster_api(access).get_namespaced_custom_object(
            RAY_GROUP, RAY_VERSION, namespace, PLURALS["RayCluster"], name, _request_timeout=REQUEST_TIMEOUT)
    except ApiException as error:
        if error.status == 404:
            return None
        raise _unreadable("RayCluster", name, namespace, error) from None
    if not made_by_stack(live.get("metadata", {}).get("labels")):
        raise ConfigError([describe_problem(
            "rayClusterName", name, f"a RayCluster of that name already runs in {namespace} and was not created by "
            "this stack", "choose another rayClusterName, or monitor that cluster: pulumi config set "
            "createRayCluster false (the stack then patches it)")])
    group = next((g for g in live.get("spec", {}).get("workerGroupSpecs", []) if g.get("groupName") == WORKER_GROUP),
                 None)
    if group is None or not isinstance(group.get("replicas"), int):
        return None
    return ScaledWorkers(group["replicas"], group.get("scaleStrategy") or None)


@dataclass(frozen=True)
class ClaimState:
    size: str  # spec.resources.requests.storage, what the stack last applied
    storage_class: str | None
    expandable: bool  # the StorageClass sets allowVolumeExpansion: true


def claim_state(access: ClusterAccess, namespace: str, name: str) -> ClaimState | None:
    """A PersistentVolumeClaim the stack made, and whether its StorageClass lets it grow; None when missing."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    api = cluster_api(access).api_client
    try:
        claim = client.CoreV1Api(api).read_namespaced_persistent_volume_claim(name, namespace,
                                                                              _request_timeout=REQUEST_TIMEOUT)
    except ApiException as error:
        if error.status == 404:
            return None
        raise ConfigError([describe_problem(
            "prometheusStorage", "persistentVolumeClaim", f"the claim {namespace}/{name} could not be read "
            f"({error.status} {error.reason})", f"use credentials that may `kubectl get pvc -n {namespace} {name}`")]
        ) from None
    spec = claim.spec
    requests = (spec.resources.requests if spec and spec.resources else None) or {}
    if spec is None or "storage" not in requests:
        return None  # not a claim the stack made: pulumi up reports it
    storage_class = spec.storage_class_name
    expandable = False
    if storage_class:
        try:
            found = client.StorageV1Api(api).read_storage_class(storage_class, _request_timeout=REQUEST_TIMEOUT)
            expandable = bool(found.allow_volume_expansion)
        except ApiException:  # gone, or not ours to read: growing it would not be known to work
            expandable = False
    return ClaimState(requests["storage"], storage_class, expandable)


# KubeRay 1.6+ (controllers/ray/raycluster_controller.go, shouldRecreatePodsForUpgrade) recreates a RayCluster's
# pods on a template change only when its head pod carries this annotation, which it sets only on a head it
# creates while the cluster has upgradeStrategy Recreate: an empty one means "never".
RECREATE_HASH = "ray.io/upgrade-strategy-recreate-hash"


def heads_without_recreate_hash(access: ClusterAccess, targets: tuple[PatchTarget, ...]) -> list[PatchTarget]:
    """The RayClusters among `targets` whose running head KubeRay will not recreate when the patch lands."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    api = client.CoreV1Api(cluster_api(access).api_client)
    stale = []
    for target in targets:
        if target.kind != "RayCluster":
            continue
        try:
            heads = api.list_namespaced_pod(target.namespace, label_selector=f"ray.io/cluster={target.name},"
                                            "ray.io/node-type=head", _request_timeout=REQUEST_TIMEOUT).items
        except ApiException:  # not ours to list: nothing to say
            continue
        if any(RECREATE_HASH not in ((pod.metadata and pod.metadata.annotations) or {}) for pod in heads):
            stale.append(target)
    return stale


# minikube labels every node it makes with its profile's name (minikube's own node labels).
MINIKUBE_LABEL = "minikube.k8s.io/name"


def check_node_port_is_on_minikube(labels: list[dict[str, str]] | None, node_port: int) -> None:
    """A NodePort for the Ray Dashboard opens Ray's Jobs API (code execution) on every node's address:
    only on a cluster whose every node (`node_labels`) says it is minikube, a machine of the user's own."""
    if labels and all(MINIKUBE_LABEL in node for node in labels):
        return
    why = ("your credentials may not list the cluster's nodes, so it cannot be told to be minikube"
           if labels is None else
           f"not every node carries {MINIKUBE_LABEL}, so this is not minikube")
    raise ConfigError([describe_problem(
        "rayDashboardNodePort", node_port,
        f"opens the Ray Dashboard, whose Jobs API runs any code, on every node's address; {why}",
        "pulumi config set rayDashboardNodePort '' (unset: no NodePort), and reach the dashboard with the "
        "rayDashboardPortForward output")])


def ray_version_of_targets(targets: tuple[PatchTarget, ...], objects: list[dict[str, Any]]) -> str | None:
    """The Ray version the patched clusters declare (`spec.rayVersion`; a RayService's in its
    rayClusterConfig), or None when none declares one. Clusters on different minor versions cannot
    share one set of dashboards: ConfigError, asking for rayVersion."""
    declared = {}
    for target, obj in zip(targets, objects):
        spec = obj.get("spec", {})
        version = (spec.get("rayClusterConfig", {}) if target.kind == "RayService" else spec).get("rayVersion")
        if version:
            declared[f"{target.kind} {target.namespace}/{target.name}"] = str(version)
    minors = {".".join(v.split(".")[:2]) for v in declared.values()}
    if len(minors) > 1:
        listing = ", ".join(f"{k} runs {v}" for k, v in declared.items())
        raise ConfigError([describe_problem(
            "rayVersion", None, f"the patched clusters run different Ray versions ({listing}) and Grafana serves "
            "one set of Ray dashboards", "pulumi config set rayVersion VERSION (the one most users look at)")])
    return next(iter(declared.values()), None)
