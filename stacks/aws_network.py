"""Where the aws stack's nodes run: the head's subnet (its zone holds the data volume) and the workers'.

Chosen from what EC2 says (the zones that offer each instance type, each subnet's route out) and kept
from one `pulumi up` to the next: a running stack stays in its data volume's zone unless the user asks
for a new volume, because an EBS volume never leaves its zone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import pulumi
import pulumi_aws as aws

from stacks.aws_deployed import Deployed
from stacks.settings import AwsSettings, ConfigError, describe_problem

Subnet: TypeAlias = aws.ec2.AwaitableGetSubnetResult
DEFAULT_ROUTE = "0.0.0.0/0"


@dataclass(frozen=True)
class Subnets:
    head: Subnet
    worker_ids: list[str]


def _offering_zones(instance_types: set[str]) -> dict[str, set[str]]:
    """Instance type -> the zones (names) of the region that offer it (EC2 DescribeInstanceTypeOfferings)."""
    offers = aws.ec2.get_instance_type_offerings(
        filters=[{"name": "instance-type", "values": sorted(instance_types)}], location_type="availability-zone")
    zones: dict[str, set[str]] = {t: set() for t in instance_types}
    for zone, instance_type in zip(offers.locations, offers.instance_types):
        zones.setdefault(instance_type, set()).add(zone)
    return zones


def default_route(subnet: Subnet) -> str | None:
    """The target of the subnet's route to 0.0.0.0/0 (`igw-...`, `nat-...`, ...), or None without one.
    A subnet with no explicit association uses its VPC's main route table."""
    tables = aws.ec2.get_route_tables(filters=[{"name": "association.subnet-id", "values": [subnet.id]}]).ids
    if not tables:
        tables = aws.ec2.get_route_tables(filters=[{"name": "vpc-id", "values": [subnet.vpc_id]},
                                                   {"name": "association.main", "values": ["true"]}]).ids
    if not tables:
        return None
    for route in aws.ec2.get_route_table(route_table_id=tables[0]).routes:
        if route.cidr_block == DEFAULT_ROUTE:
            return next((target for target in (route.gateway_id, route.nat_gateway_id, route.transit_gateway_id,
                                               route.network_interface_id, route.vpc_peering_connection_id,
                                               route.instance_id) if target), "")
    return None


def _vpc_subnets(vpc_id: str) -> list[Subnet]:
    ids = sorted(aws.ec2.get_subnets(filters=[{"name": "vpc-id", "values": [vpc_id]}]).ids)
    if not ids:
        raise ConfigError([describe_problem("vpcId", vpc_id, "has no subnets",
                                            "pulumi config set subnetId subnet-...")])
    return [aws.ec2.get_subnet(id=subnet_id) for subnet_id in ids]


def _type_key(s: AwsSettings, instance_type: str) -> str:
    return "headInstanceType" if instance_type == s.nodes.head_instance_type else "workerInstanceType"


def _pick_default_subnet(s: AwsSettings, types: set[str], zones: dict[str, set[str]],
                         current: Deployed | None) -> Subnet:
    """The default VPC's first subnet (by id) in a zone offering every type; once the stack has a data
    volume, in its zone."""
    subnets = _vpc_subnets(aws.ec2.get_vpc(default=True).id)
    allowed = ({current.zone} if current and not s.data.replace_volume
               else {subnet.availability_zone for subnet in subnets})
    for subnet in subnets:
        if subnet.availability_zone in allowed and all(subnet.availability_zone in zones[t] for t in types):
            return subnet
    missing = next((t for t in sorted(types) if not zones[t] & allowed), s.nodes.head_instance_type)
    where = (f"the data volume's zone {current.zone}" if current and not s.data.replace_volume
             else f"the default VPC's zones ({', '.join(sorted(allowed))})")
    raise ConfigError([describe_problem(_type_key(s, missing), missing, f"is not offered in {where} with "
                                        f"{' and '.join(sorted(types - {missing})) or 'it'} (EC2's instance type "
                                        f"offerings: {', '.join(sorted(zones[missing])) or 'no zone'})",
                                        "pick a type offered there, or set subnetId to a subnet of a zone that "
                                        "offers it (a new zone needs replaceDataVolume)")])


def _check_zone_kept(s: AwsSettings, subnet: Subnet, current: Deployed | None) -> None:
    if not current or subnet.availability_zone == current.zone:
        return
    if s.data.replace_volume:
        pulumi.log.warn(f"the head moves from {current.zone} to {subnet.availability_zone}: a new, empty data volume "
                        f"is made there and {current.volume_id} is "
                        f"{'kept (retainData)' if s.data.retain else 'deleted with its history'} (replaceDataVolume)")
        return
    key, value = (("subnetId", s.network.subnet_id) if s.network.subnet_id else ("vpcId", s.network.vpc_id))
    raise ConfigError([describe_problem(
        key, value, f"puts the head in {subnet.availability_zone}, but its data volume {current.volume_id} "
        f"(Prometheus' history, Grafana's database) is in {current.zone}, and an EBS volume cannot leave its zone: "
        "a new, empty volume would replace it", f"pick a subnet in {current.zone}; or, to start over there, "
        "pulumi config set replaceDataVolume true (with retainData: true the old volume is kept, detached)")])


def _check_head_routes(s: AwsSettings, subnet: Subnet) -> None:
    route = default_route(subnet)
    where = ("subnetId", s.network.subnet_id or subnet.id)
    if route is None:
        raise ConfigError([describe_problem(*where, f"has no route to {DEFAULT_ROUTE}: the head could install "
                                            "neither Docker nor the images, and pulumi up would succeed with "
                                            "nothing running", "pick a subnet that routes out through an internet "
                                            "gateway or a NAT gateway")])
    if s.network.head_elastic_ip and not route.startswith("igw-"):
        raise ConfigError([describe_problem("headElasticIp", True, f"needs an internet gateway, but subnet "
                                            f"{subnet.id} routes out through {route}: EC2 refuses to associate an "
                                            "Elastic IP there", "pulumi config set headElasticIp false (reach the "
                                            "head through the SSM tunnel), or pick a public subnet")])


def _worker_subnets(s: AwsSettings, head: Subnet, zones: dict[str, set[str]]) -> list[str]:
    """workerSubnetIds (in the head's VPC, routed out without a public address), else the head's subnet."""
    offered = zones.get(s.nodes.worker_instance_type, set())
    worker_zones = set()
    for subnet_id in s.network.worker_subnet_ids:
        subnet = aws.ec2.get_subnet(id=subnet_id)
        worker_zones.add(subnet.availability_zone)
        if subnet.vpc_id != head.vpc_id:
            raise ConfigError([describe_problem("workerSubnetIds", subnet_id,
                                                f"is in {subnet.vpc_id}, not the head's VPC {head.vpc_id}",
                                                "list subnets of the head's VPC (with a NAT route out)")])
        route = default_route(subnet)
        if not route or route.startswith("igw-"):
            raise ConfigError([describe_problem(
                "workerSubnetIds", subnet_id, f"routes out through {route or 'nothing'}, which workers without a "
                "public address cannot use", "list subnets whose 0.0.0.0/0 route is a NAT gateway, or pulumi "
                "config rm workerSubnetIds (workers in the head's subnet, with public addresses)")])
    if worker_zones and not worker_zones & offered:
        raise ConfigError([describe_problem("workerInstanceType", s.nodes.worker_instance_type,
                                            "is offered in none of the zones of workerSubnetIds",
                                            "add a subnet of a zone that offers it, or pick another type")])
    return list(s.network.worker_subnet_ids) or [head.id]


def subnets(s: AwsSettings, current: Deployed | None) -> Subnets:
    """Every check passes before the first resource is registered."""
    workers_beside_head = bool(s.nodes.worker_max_count) and not s.network.worker_subnet_ids
    here = {s.nodes.head_instance_type} | ({s.nodes.worker_instance_type} if workers_beside_head else set())
    zones = _offering_zones(here | {s.nodes.worker_instance_type})
    if s.network.subnet_id:
        head = aws.ec2.get_subnet(id=s.network.subnet_id)
        if s.network.vpc_id and head.vpc_id != s.network.vpc_id:
            raise ConfigError([describe_problem("subnetId", s.network.subnet_id,
                                                f"is in {head.vpc_id}, not vpcId {s.network.vpc_id}",
                                                "pulumi config rm vpcId, or pick a subnet of that VPC")])
        for instance_type in sorted(here):
            if head.availability_zone not in zones[instance_type]:
                raise ConfigError([describe_problem(
                    _type_key(s, instance_type), instance_type, f"is not offered in {head.availability_zone}, the "
                    f"zone of subnet {head.id}", "pick a type that zone offers, or a subnet of a zone that offers it")])
    else:
        head = _pick_default_subnet(s, here, zones, current)
    _check_zone_kept(s, head, current)
    _check_head_routes(s, head)
    worker_ids = _worker_subnets(s, head, zones)
    pulumi.log.info(f"the head runs in subnet {head.id} ({head.availability_zone}, which offers "
                    f"{' and '.join(sorted(here))})")
    return Subnets(head, worker_ids)
