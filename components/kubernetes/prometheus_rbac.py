"""Least-privilege RBAC for Prometheus' pod discovery."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import common as kc

# kubernetes_sd_configs role "pod" lists and watches pods; nothing else.
DISCOVERY_RULES = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


@dataclass(frozen=True)
class PrometheusRbacArgs:
    account_name: str  # the ServiceAccount Prometheus runs as
    namespace: str  # where the ServiceAccount lives
    watch_namespaces: tuple[str, ...] | None  # None: every namespace, through a ClusterRole
    labels: dict[str, str]


class PrometheusRbac(pulumi.ComponentResource):
    service_account_name: pulumi.Output[str]

    def __init__(self, name: str, args: PrometheusRbacArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:kubernetes:PrometheusRbac", name, None, opts)
        child = kc.child_options(self, opts)

        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={"name": args.account_name, "namespace": args.namespace, "labels": args.labels},
            # The token is mounted only into the Prometheus pod, which needs it.
            automount_service_account_token=False,
            opts=child,
        )
        # Named after the namespace too: Roles in a shared namespace must not collide.
        role_name = f"{args.namespace}-{args.account_name}"
        subject = {"kind": "ServiceAccount", "name": account.metadata.name, "namespace": args.namespace}

        if args.watch_namespaces is None:
            role = k8s.rbac.v1.ClusterRole(
                f"{name}-cluster-role",
                metadata={"name": role_name, "labels": args.labels},
                rules=DISCOVERY_RULES,
                opts=child,
            )
            k8s.rbac.v1.ClusterRoleBinding(
                f"{name}-cluster-role-binding",
                metadata={"name": role_name, "labels": args.labels},
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                          "name": role.metadata.name},
                subjects=[subject],
                opts=child,
            )
        else:
            for namespace in args.watch_namespaces:
                role = k8s.rbac.v1.Role(
                    f"{name}-role-{namespace}",
                    metadata={"name": role_name, "namespace": namespace, "labels": args.labels},
                    rules=DISCOVERY_RULES,
                    opts=child,
                )
                k8s.rbac.v1.RoleBinding(
                    f"{name}-role-binding-{namespace}",
                    metadata={"name": role_name, "namespace": namespace, "labels": args.labels},
                    role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
                    subjects=[subject],
                    opts=child,
                )

        self.service_account_name = account.metadata.name
        self.register_outputs({"service_account_name": self.service_account_name})
