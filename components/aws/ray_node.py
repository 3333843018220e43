"""The Ray head's EC2 instance: hardened defaults, cloud-init from the builders (the workers run in an
Auto Scaling Group: worker_group.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class RayNodeArgs:
    cluster_name: str
    ami_id: str
    instance_type: str
    subnet_id: str
    security_group_ids: list[pulumi.Input[str]]
    instance_profile_name: pulumi.Input[str]
    user_data: pulumi.Input[str]
    root_volume_size: int
    key_name: str | None
    # The AMI was looked up (amiId unset) for the same hardware family: a newer release does not replace
    # the head (`ami` forces a new instance); amiId, a change of family or `pulumi up --replace` does.
    keep_ami: bool = False
    # An Elastic IP: a stop/start (a new instance type is one) keeps the head's public address.
    elastic_ip: bool = False
    tags: dict[str, str] = field(default_factory=dict)  # beside Name and the cluster's: the stack's own


class RayNode(pulumi.ComponentResource):
    instance: aws.ec2.Instance
    public_ip: pulumi.Output[str]  # the Elastic IP's when there is one
    public_dns: pulumi.Output[str]  # empty in a VPC without DNS hostnames

    def __init__(self, name: str, args: RayNodeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:aws:RayNode", name, None, opts)
        self.instance = aws.ec2.Instance(
            f"{name}-instance",
            ami=args.ami_id,
            instance_type=args.instance_type,
            subnet_id=args.subnet_id,
            vpc_security_group_ids=args.security_group_ids,
            iam_instance_profile=args.instance_profile_name,
            key_name=args.key_name,
            user_data=args.user_data,
            # A new user-data means a new node: cloud-init runs only at first boot.
            user_data_replace_on_change=True,
            associate_public_ip_address=True,
            metadata_options={"http_tokens": "required", "http_endpoint": "enabled",
                              "http_put_response_hop_limit": 1},
            root_block_device={"volume_size": args.root_volume_size, "volume_type": "gp3", "encrypted": True},
            tags={"Name": f"{args.cluster_name}-{name}", "ray-cluster": args.cluster_name,
                  "ray-node-type": "head", **args.tags},
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami"] if args.keep_ami else None),
        )
        self.public_ip, self.public_dns = self.instance.public_ip, self.instance.public_dns
        if args.elastic_ip:
            address = aws.ec2.Eip(f"{name}-address", domain="vpc", instance=self.instance.id,
                                  tags={"Name": f"{args.cluster_name}-{name}", "ray-cluster": args.cluster_name},
                                  opts=pulumi.ResourceOptions(parent=self))
            self.public_ip, self.public_dns = address.public_ip, address.public_dns
        self.register_outputs({"id": self.instance.id, "private_ip": self.instance.private_ip,
                               "public_ip": self.public_ip})
