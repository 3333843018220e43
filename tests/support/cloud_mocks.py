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
}


GENERATED_PASSWORD = "mock-password-" + "x" * 18  # the Grafana admin password generators' result


class CloudMocks(pulumi.runtime.Mocks):
    """Stands in for the providers only: fills what the cloud would compute (ids, names, IPs)."""

    def __init__(self) -> None:
        self.invokes: list[tuple[str, dict]] = []
        # The account's data volumes of this stack, as DescribeVolumes returns them (id, size in GiB).
        self.volumes: list[dict[str, Any]] = []
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
            state["version"] = 1
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
            return UBUNTU_AMI
        if args.token == "aws:ec2/getVpc:getVpc":
            return {"id": "vpc-0123456789abcdef0", "cidrBlock": "172.31.0.0/16"}
        if args.token == "aws:ec2/getSubnets:getSubnets":
            return {"ids": ["subnet-0bbbbbbbbbbbbbbbb", "subnet-0aaaaaaaaaaaaaaaa"]}
        if args.token == "aws:ec2/getSubnet:getSubnet":
            subnet = args.args.get("id", "subnet-0aaaaaaaaaaaaaaaa")
            return {"id": subnet, "availabilityZone": "us-west-2a",
                    "vpcId": "vpc-0fffffffffffffff0" if subnet.startswith("subnet-0f") else "vpc-0123456789abcdef0"}
        if args.token == "aws:ebs/getEbsVolumes:getEbsVolumes":
            return {"ids": [v["id"] for v in self.volumes]}
        if args.token == "aws:ebs/getVolume:getVolume":
            (wanted,) = [f["values"][0] for f in args.args.get("filters", []) if f["name"] == "volume-id"]
            (volume,) = [v for v in self.volumes if v["id"] == wanted]
            return volume
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


