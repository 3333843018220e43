"""The KubeRay operator, installed from KubeRay's Helm chart at the pinned version.

A `helm.v3.Release`, not a `helm.v4.Chart`: Helm owns the operator's lifecycle (`helm list`,
`helm history` and KubeRay's upgrade notes apply as written), and it installs the RayCluster CRDs
from the chart's crds/ folder but never deletes them. A Chart would register the CRDs as Pulumi
resources, and `pulumi destroy` would delete them, and with them every RayCluster in the cluster,
including clusters this stack never created.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import common as kc
from components.versions import KUBERAY_CHART, KUBERAY_CHART_REPOSITORY, KUBERAY_VERSION

RELEASE_NAME = "kuberay-operator"
INSTALL_TIMEOUT_SECONDS = 300  # Helm waits this long for the operator to be ready, then fails

# Only keys of the chart's values.yaml (tests check them against it). The chart sets only a limit,
# which Kubernetes also takes as the request; a smaller memory request fits beside Ray on minikube.
VALUES = {
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
}


@dataclass(frozen=True)
class KubeRayOperatorArgs:
    namespace: str
    chart_repository: str = KUBERAY_CHART_REPOSITORY  # a mirror's, where the internet is out of reach
    # Helm creates the namespace when missing (unlabelled); False where the stack creates it itself.
    create_namespace: bool = True


class KubeRayOperator(pulumi.ComponentResource):
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: KubeRayOperatorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:kubernetes:KubeRayOperator", name, None, opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            chart=KUBERAY_CHART,
            version=KUBERAY_VERSION,
            repository_opts={"repo": args.chart_repository},
            namespace=args.namespace,
            create_namespace=args.create_namespace,
            values=VALUES,
            # Ready means the operator's Deployment is available; a failed install is rolled back.
            timeout=INSTALL_TIMEOUT_SECONDS,
            atomic=True,
            cleanup_on_fail=True,
            opts=kc.child_options(self, opts),  # after the namespace, when the stack creates it
        )
        self.register_outputs({"release": self.release})
