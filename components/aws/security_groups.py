"""Security groups: all traffic between cluster members; UI and SSH access only from listed CIDRs."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.constants import GRAFANA_PORT, GRAFANA_TLS_PORT, PROMETHEUS_PORT, RAY_DASHBOARD_PORT

ACCESS_PORTS = {"grafana": GRAFANA_PORT, "prometheus": PROMETHEUS_PORT}
SSH_PORT = 22


@dataclass(frozen=True)
class SecurityGroupsArgs:
    vpc_id: str
    cluster_name: str
    allowed_cidrs: tuple[str, ...]  # validated; empty: reach the head through SSM only
    # The Ray Dashboard's port also serves the Jobs API, which runs any code: only when asked for.
    ray_dashboard: bool = False
    grafana_tls: bool = False  # Grafana reached over HTTPS (GRAFANA_TLS_PORT), never its plain port
    ssh: bool = False  # an EC2 key pair is set (keyName): without one nothing answers on 22 worth opening


class SecurityGroups(pulumi.ComponentResource):
    cluster_group_id: pulumi.Output[str]
    access_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: SecurityGroupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:aws:SecurityGroups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {"Name": f"{args.cluster_name}-{name}", "ray-cluster": args.cluster_name}

        cluster = aws.ec2.SecurityGroup(
            f"{name}-cluster", vpc_id=args.vpc_id, tags=tags,
            description=f"Ray cluster {args.cluster_name}: members only", opts=child,
        )
        # Ray uses many ports between nodes (GCS, object manager, workers, metrics): members only.
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-cluster-members", security_group_id=cluster.id, referenced_security_group_id=cluster.id,
            ip_protocol="-1", description="all traffic between cluster members", opts=child,
        )
        for family, cidr in (("ipv4", "0.0.0.0/0"), ("ipv6", "::/0")):
            # Nodes pull images and packages; egress only.
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-cluster-egress-{family}", security_group_id=cluster.id, ip_protocol="-1",
                description="outbound", opts=child,
                **({"cidr_ipv4": cidr} if family == "ipv4" else {"cidr_ipv6": cidr}),
            )

        access = aws.ec2.SecurityGroup(
            f"{name}-access", vpc_id=args.vpc_id, tags=tags,
            description=f"Ray cluster {args.cluster_name}: SSH and UIs from allowed CIDRs", opts=child,
        )
        for index, cidr in enumerate(args.allowed_cidrs):
            network = ipaddress.ip_network(cidr)
            block = {"cidr_ipv4": cidr} if network.version == 4 else {"cidr_ipv6": cidr}
            ports = {**({"ssh": SSH_PORT} if args.ssh else {}), **ACCESS_PORTS,
                     **({"ray-dashboard": RAY_DASHBOARD_PORT} if args.ray_dashboard else {}),
                     **({"grafana": GRAFANA_TLS_PORT} if args.grafana_tls else {})}
            for service, port in ports.items():
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-access-{service}-{index}", security_group_id=access.id, ip_protocol="tcp",
                    from_port=port, to_port=port, description=f"{service} from {cidr}", opts=child, **block,
                )

        self.cluster_group_id = cluster.id
        self.access_group_id = access.id
        self.register_outputs({"cluster_group_id": cluster.id, "access_group_id": access.id})
