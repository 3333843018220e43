"""What the aws stack already runs in the account, read before anything is planned: its data volume
(found by the stack's tag) and the head that volume is attached to. A later `pulumi up` keeps what these
say unless a setting asks otherwise: the volume's zone, its size, the head's kind of AMI and root disk."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

STACK_TAG = "ray-monitoring-stack"
# Every state an instance holds a volume in: a stopped head still owns its data volume.
LIVE_STATES = ["pending", "running", "stopping", "stopped"]


def stack_id() -> str:
    """This stack, as tags and SSM names tell it from another stack of the project in the account."""
    return f"{pulumi.get_project()}/{pulumi.get_stack()}"


@dataclass(frozen=True)
class DeployedHead:
    instance_id: str
    instance_type: str
    root_volume_size: int | None  # GiB


@dataclass(frozen=True)
class Deployed:
    """The stack's data volume and the head it is attached to (None when no live instance holds it)."""

    volume_id: str
    zone: str  # EBS volumes live in one zone: the head must run there to attach it
    size: int  # GiB; the largest of the stack's volumes (EBS never shrinks one)
    head: DeployedHead | None


def deployed() -> Deployed | None:
    """The stack's data volume (the one attached to a head when a retained one lies beside it), or None
    on the first `pulumi up`. Read once per run: the caller passes it on."""
    found = aws.ebs.get_ebs_volumes(filters=[{"name": f"tag:{STACK_TAG}", "values": [stack_id()]}]).ids
    if not found:
        return None
    volumes = {volume_id: aws.ebs.get_volume(filters=[{"name": "volume-id", "values": [volume_id]}])
               for volume_id in sorted(found)}
    heads = aws.ec2.get_instances(filters=[{"name": "block-device-mapping.volume-id", "values": sorted(volumes)}],
                                  instance_state_names=LIVE_STATES).ids
    head, volume_id = None, sorted(volumes)[0]
    if heads:
        instance = aws.ec2.get_instance(instance_id=sorted(heads)[0])
        attached = [d.volume_id for d in instance.ebs_block_devices if d.volume_id in volumes]
        volume_id = attached[0] if attached else volume_id
        root = instance.root_block_devices[0].volume_size if instance.root_block_devices else None
        head = DeployedHead(instance.id, instance.instance_type, int(root) if root else None)
    size = max(int(v.size) for v in volumes.values())
    return Deployed(volume_id, volumes[volume_id].availability_zone, size, head)
