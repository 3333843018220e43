"""Pulumi mocks for the cloud (the Kubernetes and AWS providers) and a monitor that records what the
program registers. Only the providers are mocked: settings, builders and components run for real."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks

from support.pulumi_internals import integers, reveal


@dataclass
class Registered:
    type: str
    name: str
    parent: str  # parent URN
    urn: str
    inputs: dict  # with secret wrappers kept
    dependencies: set[str]  # URNs it waits for
    options: dict = field(default_factory=dict)  # resource options the engine sees (retainOnDelete, ...)

    @property
    def plain(self) -> dict:
        return reveal(self.inputs)


UBUNTU_AMI = {
    "id": "ami-0abcdef1234567890",
    "imageId": "ami-0abcdef1234567890",
    "name": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261101",
    "rootDeviceName": "/dev/sda1",
    "blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"volumeSize": 8}}],
}
GPU_AMI = {
    "id": "ami-0fedcba9876543210",
    "imageId": "ami-0fedcba9876543210",
    "name": "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) 20261110",
    "rootDeviceName": "/dev/sda1",
    "blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"volumeSize": 75}}],
}
# Memory (MiB) and GPUs of the instance types the tests use, as EC2's DescribeInstanceTypes gives them.
INSTANCE_TYPES = {
    "m5.large": (8192, []), "m5.xlarge": (16384, []), "m5.2xlarge": (32768, []), "t3.medium": (4096, []),
    "g5.xlarge": (16384, [{"count": 1, "manufacturer": "NVIDIA", "name": "A10G", "memorySize": 24576}]),
    "g4ad.xlarge": (16384, [{"count": 1, "manufacturer": "AMD", "name": "Radeon Pro V520", "memorySize": 8192}]),
    "g4dn.xlarge": (16384, [{"count": 1, "manufacturer": "NVIDIA", "name": "T4", "memorySize": 16384}]),
    "p3.2xlarge": (62464, [{"count": 1, "manufacturer": "NVIDIA", "name": "V100", "memorySize": 16384}]),
    "g3s.xlarge": (31232, [{"count": 1, "manufacturer": "NVIDIA", "name": "M60", "memorySize": 8192}]),
}


DEFAULT_VPC = "vpc-0123456789abcdef0"
# The default VPC's subnets, one per zone as AWS makes them, routed out through its internet gateway, and
# subnets of the tests' own: a private one (NAT), an isolated one, and one of another VPC.
SUBNETS: dict[str, dict[str, Any]] = {
    "subnet-0aaaaaaaaaaaaaaaa": {"availabilityZone": "us-west-2a", "vpcId": DEFAULT_VPC, "route": "igw-0a1b2c3d"},
    "subnet-0bbbbbbbbbbbbbbbb": {"availabilityZone": "us-west-2b", "vpcId": DEFAULT_VPC, "route": "igw-0a1b2c3d"},
    "subnet-01111111111111111": {"availabilityZone": "us-west-2a", "vpcId": DEFAULT_VPC, "route": "igw-0a1b2c3d",
                                 "default": False},
    "subnet-0cccccccccccccccc": {"availabilityZone": "us-west-2a", "vpcId": DEFAULT_VPC, "route": "nat-0c1d2e3f",
                                 "default": False},
    "subnet-0dddddddddddddddd": {"availabilityZone": "us-west-2b", "vpcId": DEFAULT_VPC, "route": "nat-0c1d2e3f",
                                 "default": False},
    "subnet-0eeeeeeeeeeeeeeee": {"availabilityZone": "us-west-2a", "vpcId": DEFAULT_VPC, "route": None,
                                 "default": False},
    "subnet-0ffffffffffffffff": {"availabilityZone": "us-west-2a", "vpcId": "vpc-0fffffffffffffff0",
                                 "route": "igw-0f0f0f0f", "default": False},
}
ZONES = ("us-west-2a", "us-west-2b", "us-west-2c")

GENERATED_PASSWORD = "mock-password-" + "x" * 18  # the Grafana admin password generators' result


class CloudMocks(pulumi.runtime.Mocks):
    """Stands in for the providers only: fills what the cloud would compute (ids, names, IPs)."""

    def __init__(self) -> None:
        self.invokes: list[tuple[str, dict]] = []
        # The account's data volumes of this stack, as DescribeVolumes returns them (id, size in GiB, zone).
        self.volumes: list[dict[str, Any]] = []
        # Instances that run already, as DescribeInstances returns them: id, instanceType, ami, the volume ids
        # attached (`ebsBlockDevices`) and the root volume (`rootBlockDevices`).
        self.instances: list[dict[str, Any]] = []
        # The subnets of the account: id -> zone, VPC and the target of its 0.0.0.0/0 route (None: none).
        self.subnets: dict[str, dict[str, Any]] = {k: dict(v) for k, v in SUBNETS.items()}
        # SSM parameter name -> its version (1 unless a test says it was overwritten: each PutParameter of a
        # new value adds a version).
        self.parameter_versions: dict[str, int] = {}
        # Each VPC's main route table's 0.0.0.0/0 target, for subnets without a table of their own.
        self.main_routes: dict[str, str | None] = {DEFAULT_VPC: "igw-0a1b2c3d"}
        # (zone, instance type) pairs EC2 does not offer; every other pair is offered.
        self.unoffered: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        if args.typ.startswith("kubernetes:"):
            metadata = dict(state.get("metadata") or {})
            metadata.setdefault("name", f"{args.name}-generated")
            state["metadata"] = metadata
        if args.typ == "random:index/randomPassword:RandomPassword":
            # Each generator its own value, as the provider gives: the admin password's is known to tests.
            state["result"] = (GENERATED_PASSWORD if "admin-password" in args.name
                               else f"mock-{args.name}".ljust(int(state.get("length", 32)), "y"))
        if args.typ == "aws:ec2/instance:Instance":
            state.update(privateIp="10.0.1.10", publicIp="203.0.113.10",
                         publicDns="ec2-203-0-113-10.us-west-2.compute.amazonaws.com",
                         arn=f"arn:aws:ec2:us-west-2:123456789012:instance/i-{args.name}")
        if args.typ == "aws:ec2/eip:Eip":
            state.update(publicIp="198.51.100.7", publicDns="ec2-198-51-100-7.us-west-2.compute.amazonaws.com",
                         allocationId=f"eipalloc-{args.name}")
        if args.typ == "aws:ssm/parameter:Parameter":
            state["arn"] = f"arn:aws:ssm:us-west-2:123456789012:parameter{state.get('name', '/x')}"
            state["version"] = self.parameter_versions.get(state.get("name", ""), 1)
        if args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state["latestVersion"] = 1
        if args.typ == "aws:s3/bucketV2:BucketV2" or args.typ == "aws:s3/bucket:Bucket":
            state.setdefault("bucket", f"{args.name}-bucket")
            state["arn"] = f"arn:aws:s3:::{state['bucket']}"
        if args.typ == "aws:autoscaling/group:Group":
            state.setdefault("name", f"{args.name}-7d3f2a1")  # Pulumi's auto-name: the logical name + a suffix
        if args.typ == "aws:iam/instanceProfile:InstanceProfile":
            state.setdefault("name", f"{args.name}-name")
        if args.typ == "aws:amp/workspace:Workspace":
            # As the AWS API returns it: the workspace's endpoint, with a trailing slash.
            state["arn"] = f"arn:aws:aps:us-west-2:123456789012:workspace/ws-{args.name}"
            state["prometheusEndpoint"] = f"https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-{args.name}/"
        if args.typ == "aws:kms/key:Key":
            state["arn"] = f"arn:aws:kms:us-west-2:123456789012:key/{args.name}"
        if args.typ == "aws:iam/role:Role":
            state["arn"] = f"arn:aws:iam::123456789012:role/{args.name}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        with self._lock:
            self.invokes.append((args.token, dict(args.args)))
        if args.token == "aws:ec2/getAmi:getAmi":
            filters = {f["name"]: f["values"][0] for f in args.args.get("filters", [])}
            if filters.get("image-id") == GPU_AMI["id"] or "Deep Learning" in filters.get("name", ""):
                return GPU_AMI
            if filters.get("image-id") not in (None, UBUNTU_AMI["id"]):
                # An image of the user's, e.g. an organisation's golden image shared with the account.
                return {**UBUNTU_AMI, "id": filters["image-id"], "imageId": filters["image-id"],
                        "name": "team-golden-image-20261115"}
            return UBUNTU_AMI
        if args.token == "aws:ec2/getVpc:getVpc":
            return {"id": DEFAULT_VPC, "cidrBlock": "172.31.0.0/16"}
        network = self._network(args.token, args.args)
        if network is not None:
            return network
        if args.token == "aws:ebs/getEbsVolumes:getEbsVolumes":
            return {"ids": [v["id"] for v in self.volumes]}
        if args.token == "aws:ebs/getVolume:getVolume":
            (wanted,) = [f["values"][0] for f in args.args.get("filters", []) if f["name"] == "volume-id"]
            (volume,) = [v for v in self.volumes if v["id"] == wanted]
            return volume
        if args.token == "aws:ec2/getInstances:getInstances":
            (wanted,) = [f["values"] for f in args.args["filters"] if f["name"] == "block-device-mapping.volume-id"]
            return {"ids": [i["id"] for i in self.instances
                            if {d["volumeId"] for d in i.get("ebsBlockDevices", [])} & set(wanted)]}
        if args.token == "aws:ec2/getInstance:getInstance":
            (instance,) = [i for i in self.instances if i["id"] == args.args["instanceId"]]
            return instance
        if args.token == "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
            (types,) = [f["values"] for f in args.args["filters"] if f["name"] == "instance-type"]
            pairs = [(zone, t) for t in types for zone in ZONES if (zone, t) not in self.unoffered]
            return {"locations": [z for z, _ in pairs], "instanceTypes": [t for _, t in pairs],
                    "locationTypes": ["availability-zone"] * len(pairs)}
        if args.token == "aws:ec2/getInstanceType:getInstanceType":
            memory, gpus = INSTANCE_TYPES[args.args["instanceType"]]
            return {"instanceType": args.args["instanceType"], "memorySize": memory, "gpuses": gpus}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/ci", "userId": "x"}
        if args.token == "aws:iam/getSessionContext:getSessionContext":
            # As IAM answers for a user (an assumed role's would be its role's ARN, with its path).
            return {"arn": args.args["arn"], "issuerArn": args.args["arn"], "issuerId": "x", "issuerName": "ci",
                    "sessionName": ""}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}
        raise NotImplementedError(f"un-mocked invoke {args.token}")


    def subnet(self, subnet_id: str) -> dict[str, Any]:
        """A subnet of `self.subnets`, else one a test names: in us-west-2a of the default VPC (of another VPC
        when its id starts subnet-0f), routed out through an internet gateway."""
        return self.subnets.get(subnet_id) or {
            "availabilityZone": "us-west-2a", "route": "igw-0a1b2c3d", "default": False,
            "vpcId": "vpc-0fffffffffffffff0" if subnet_id.startswith("subnet-0f") else DEFAULT_VPC}

    def _network(self, token: str, args: dict) -> dict | None:
        """Subnets and their route tables, from `self.subnets`."""
        filters = {f["name"]: f["values"] for f in args.get("filters", [])}
        if token == "aws:ec2/getSubnets:getSubnets":
            # Listed out of order, as EC2 may list them.
            return {"ids": [i for i, subnet in reversed(self.subnets.items())
                            if subnet["vpcId"] in filters["vpc-id"] and subnet.get("default", True)]}
        if token == "aws:ec2/getSubnet:getSubnet":
            subnet = self.subnet(args["id"])
            return {"id": args["id"], "availabilityZone": subnet["availabilityZone"], "vpcId": subnet["vpcId"]}
        if token == "aws:ec2/getRouteTables:getRouteTables":
            # A subnet associated with a table of its own (rtb-<subnet id>), or (`"main": True`) with none: its
            # VPC's main table (rtb-main-<vpc id>), whose route `main_routes` holds.
            if "association.subnet-id" in filters:
                (subnet_id,) = filters["association.subnet-id"]
                return {"ids": [] if self.subnet(subnet_id).get("main") else [f"rtb-{subnet_id}"]}
            return {"ids": [f"rtb-main-{vpc}" for vpc in filters["vpc-id"] if vpc in self.main_routes]}
        if token == "aws:ec2/getRouteTable:getRouteTable":
            table = args["routeTableId"]
            target = (self.main_routes[table.removeprefix("rtb-main-")] if table.startswith("rtb-main-")
                      else self.subnet(table.removeprefix("rtb-"))["route"])
            routes = [] if target is None else [
                {"cidrBlock": "0.0.0.0/0", **{("natGatewayId" if target.startswith("nat-") else "gatewayId"): target}}]
            return {"id": args["routeTableId"], "routeTableId": args["routeTableId"], "routes": routes}
        return None


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Records every registration with its parent and every stack output, thread-safely."""

    def __init__(self, mocks: CloudMocks):
        super().__init__(mocks)
        self.registered: list[Registered] = []
        self.outputs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = integers(json_format.MessageToDict(request.object))
            with self._lock:
                self.registered.append(
                    Registered(request.type, request.name, request.parent, response.urn, inputs,
                               set(request.dependencies),
                               {"retainOnDelete": request.retainOnDelete,
                                "deleteBeforeReplace": request.deleteBeforeReplace,
                                "aliases": [json_format.MessageToDict(a) for a in request.aliases],
                                "ignoreChanges": list(request.ignoreChanges)})
                )
        return response

    def RegisterResourceOutputs(self, request):
        if request.urn.endswith("pulumi:pulumi:Stack::" + request.urn.split("::")[-1]):
            with self._lock:
                self.outputs = integers(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)


