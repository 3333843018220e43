"""A namespace the stack creates, under Pod Security's `restricted` profile.

The API server's PodSecurity admission (on by default since Kubernetes 1.25) refuses, in a namespace
labelled `enforce: restricted`, any pod that runs privileged, as root, with host namespaces, host paths
or added capabilities. A Ray job that patches its RayCluster's pod template (KubeRay's autoscaler may)
then gets no pod KubeRay creates for it that could reach the node. Every pod the stack makes passes.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import common as kc

POD_SECURITY_PROFILE = "restricted"
# enforce refuses the pod; audit and warn report it (API server audit log, kubectl's warning). No version
# label: the profile as the cluster's own Kubernetes version defines it.
POD_SECURITY_ENFORCE = "pod-security.kubernetes.io/enforce"
POD_SECURITY_LABELS = {f"pod-security.kubernetes.io/{mode}": POD_SECURITY_PROFILE
                       for mode in ("enforce", "audit", "warn")}


def restricted_namespace(resource_name: str, name: str, opts: pulumi.ResourceOptions | None = None
                         ) -> k8s.core.v1.Namespace:
    labels = {**kc.labels("monitoring", name, "namespace"), **POD_SECURITY_LABELS}
    return k8s.core.v1.Namespace(resource_name, metadata={"name": name, "labels": labels}, opts=opts)
