"""Ray workers in an Auto Scaling Group: a terminated worker is replaced and joins the head by itself."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class WorkerGroupArgs:
    cluster_name: str
    ami_id: str
    instance_type: str
    subnet_ids: list[str]
    # A public IPv4 each: in a subnet whose only way out is an internet gateway (the default VPC's),
    # a worker without one reaches no package mirror or image registry. False for subnets with NAT.
    public_ip: bool
    security_group_ids: list[pulumi.Input[str]]
    instance_profile_name: pulumi.Input[str]
    user_data: pulumi.Input[str]  # names the head's address: a new head rolls the workers
    root_device_name: str  # the AMI's
    root_volume_size: int
    key_name: str | None
    desired: int  # workerCount
    minimum: int  # workerMinCount
    maximum: int  # workerMaxCount
    keep_ami: bool = False  # the AMI was looked up: a newer release does not roll the workers
    # GPU workers' template is another resource: a change of hardware family makes a new template with the
    # other family's AMI (ignore_changes would keep the old image_id) and rolls the workers onto it.
    gpus: bool = False


class WorkerGroup(pulumi.ComponentResource):
    group: aws.autoscaling.Group

    def __init__(self, name: str, args: WorkerGroupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:aws:WorkerGroup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {"Name": f"{args.cluster_name}-worker", "ray-cluster": args.cluster_name, "ray-node-type": "worker"}
        template = aws.ec2.LaunchTemplate(
            f"{name}-gpu-launch-template" if args.gpus else f"{name}-launch-template",
            image_id=args.ami_id,
            instance_type=args.instance_type,
            key_name=args.key_name,
            user_data=pulumi.Output.from_input(args.user_data).apply(
                lambda text: base64.b64encode(text.encode()).decode()),
            iam_instance_profile={"name": args.instance_profile_name},
            metadata_options={"http_tokens": "required", "http_endpoint": "enabled",
                              "http_put_response_hop_limit": 1},
            # Reached only from the cluster's own group, whatever their address.
            network_interfaces=[{"associate_public_ip_address": str(args.public_ip).lower(),
                                 "delete_on_termination": "true", "security_groups": args.security_group_ids}],
            # A worker that cannot join Ray shuts itself down, which terminates it: the group replaces it.
            instance_initiated_shutdown_behavior="terminate",
            block_device_mappings=[{"device_name": args.root_device_name, "ebs": {
                "volume_size": args.root_volume_size, "volume_type": "gp3", "encrypted": "true",
                "delete_on_termination": "true"}}],
            tag_specifications=[{"resource_type": "instance", "tags": tags},
                                {"resource_type": "volume", "tags": tags}],
            tags={"ray-cluster": args.cluster_name},
            update_default_version=True,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["image_id"] if args.keep_ami else None),
        )
        self.group = aws.autoscaling.Group(
            f"{name}-group",
            desired_capacity=args.desired,
            min_size=args.minimum,
            max_size=args.maximum,
            vpc_zone_identifiers=args.subnet_ids,
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            health_check_type="EC2",
            # A new template (new head address, image, AMI) replaces the workers in turn.
            instance_refresh={"strategy": "Rolling", "preferences": {"min_healthy_percentage": 50}},
            tags=[{"key": k, "value": v, "propagate_at_launch": False} for k, v in sorted(tags.items())],
            wait_for_capacity_timeout="10m",
            opts=child,
        )
        self.register_outputs({"group_name": self.group.name})
