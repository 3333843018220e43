"""The minikube stack's registered Kubernetes objects as manifests, for the validators."""

from __future__ import annotations

import copy

from support.stacks import Run

# The oldest Kubernetes the manifests must be valid for (minikube's default is newer).
KUBERNETES_VERSION = "1.30.0"


def manifest(resource) -> dict:
    body = copy.deepcopy(resource.plain)
    body.pop("__defaults", None)
    return body


def kubernetes_objects(result: Run) -> list:
    """Built-in kinds; KubeRay's kinds are checked against KubeRay's CRD, the Helm release against its chart."""
    return [r for r in result.resources if r.type.startswith("kubernetes:")
            and not r.type.startswith(("kubernetes:ray.io/", "kubernetes:helm.sh/"))]


