"""What each aws node kind runs: its hardware (EC2's description of the instance type), the AMI it boots
and the Ray image. An AMI that was looked up is kept across later `pulumi up`s (a new release replaces
nothing) until the hardware family changes: a CPU head moved to a GPU type gets the GPU AMI."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.versions import GPU_AMI_NAME, GPU_AMI_OWNER, RAY_GPU_IMAGE, RAY_IMAGE, UBUNTU_AMI_NAME, UBUNTU_AMI_OWNER
from stacks.aws_deployed import Deployed
from stacks.settings import AwsSettings, ConfigError, describe_problem

# NVIDIA GPUs older than Turing, which the Deep Learning Base OSS Nvidia Driver AMI does not support
# (its release notes: the open-source kernel modules need Turing or newer), as EC2 names them.
PRE_TURING_GPUS = ("K80", "K520", "M60", "V100")


@dataclass(frozen=True)
class NodeHardware:
    """What a node's instance type needs from its AMI and image."""

    key: str  # headInstanceType | workerInstanceType
    instance_type: str
    memory_mib: int
    gpus: int  # NVIDIA GPUs


@dataclass(frozen=True)
class NodeKind:
    """A node kind's hardware, the AMI it boots and the Ray image it runs."""

    hardware: NodeHardware
    ami: aws.ec2.AwaitableGetAmiResult
    image: str
    # The looked-up AMI is kept on later runs (ignore_changes); False with amiId, or when the family changed.
    keep_ami: bool = True


def _hardware(s: AwsSettings, key: str, instance_type: str) -> NodeHardware:
    info = aws.ec2.get_instance_type(instance_type=instance_type)
    gpus = list(info.gpuses or [])
    others = sorted({g.manufacturer for g in gpus if g.manufacturer != "NVIDIA"})
    if others:
        raise ConfigError([describe_problem(key, instance_type, f"has {', '.join(others)} GPUs; Ray's GPU images "
                                            "and the NVIDIA container toolkit need NVIDIA GPUs",
                                            "pick an NVIDIA GPU type (g5, g6, p4d, ...) or a CPU type")])
    old = sorted({g.name for g in gpus if g.name in PRE_TURING_GPUS})
    if old and not s.nodes.ami_has_nvidia_driver:
        raise ConfigError([describe_problem(key, instance_type, f"has {', '.join(old)} GPUs, older than Turing: "
                                            "the Deep Learning Base OSS Nvidia Driver AMI does not drive them",
                                            "pick a Turing or newer type (g4dn, g5, g6, p4d, ...), or give an amiId "
                                            "with a driver for them and pulumi config set amiHasNvidiaDriver true")])
    return NodeHardware(key, instance_type, info.memory_size, sum(g.count for g in gpus))


def _given_ami(s: AwsSettings, nodes: tuple[NodeHardware, ...]) -> aws.ec2.AwaitableGetAmiResult:
    # No owners: DescribeImages by id then returns every image the account may launch, shared ones included.
    ami = aws.ec2.get_ami(filters=[{"name": "image-id", "values": [s.nodes.ami_id]}])
    vouched = s.nodes.ami_has_nvidia_driver
    for node in nodes:
        if node.gpus and not (vouched or fnmatch.fnmatchcase(ami.name or "", GPU_AMI_NAME)):
            raise _not_a_gpu_ami(s, node, ami)
    return ami


def _not_a_gpu_ami(s: AwsSettings, node: NodeHardware, ami: aws.ec2.AwaitableGetAmiResult) -> ConfigError:
    return ConfigError([describe_problem(
        node.key, node.instance_type,
        f"has {node.gpus} NVIDIA GPU(s), but amiId {s.nodes.ami_id} ({ami.name}) is not a GPU AMI: "
        "without the NVIDIA driver and container toolkit Ray sees no GPU",
        "pulumi config rm amiId (GPU types then get AWS's Deep Learning Base GPU AMI), or, if your AMI "
        "has the driver and the NVIDIA container toolkit, pulumi config set amiHasNvidiaDriver true")])


def _newest_ami(gpus: bool) -> aws.ec2.AwaitableGetAmiResult:
    if gpus:
        return aws.ec2.get_ami(most_recent=True, owners=[GPU_AMI_OWNER],
                               filters=[{"name": "name", "values": [GPU_AMI_NAME]},
                                        {"name": "architecture", "values": ["x86_64"]}])
    return aws.ec2.get_ami(most_recent=True, owners=[UBUNTU_AMI_OWNER],
                           filters=[{"name": "name", "values": [UBUNTU_AMI_NAME]},
                                    {"name": "virtualization-type", "values": ["hvm"]}])


def _root_volume_size(ami: aws.ec2.AwaitableGetAmiResult) -> int | None:
    for device in ami.block_device_mappings:
        if device.device_name == ami.root_device_name and device.ebs:
            size = device.ebs.get("volume_size") or device.ebs.get("volumeSize")
            return int(size) if size else None
    return None


def _check_root_volume(s: AwsSettings, amis: list[aws.ec2.AwaitableGetAmiResult], current: Deployed | None) -> None:
    for ami in {ami.id: ami for ami in amis}.values():
        ami_root = _root_volume_size(ami)
        if ami_root and s.nodes.root_volume_size < ami_root:
            raise ConfigError([describe_problem("rootVolumeSize", s.nodes.root_volume_size,
                                                f"is smaller than the root volume of AMI {ami.name} ({ami_root} GiB)",
                                                f"pulumi config set rootVolumeSize {max(ami_root, 100)}")])
    running = current.head.root_volume_size if current and current.head else None
    if running and s.nodes.root_volume_size < running:
        raise ConfigError([describe_problem("rootVolumeSize", s.nodes.root_volume_size,
                                            f"is below the running head's {running} GiB root volume, which the "
                                            "provider resizes in place, and EBS cannot shrink a volume",
                                            f"pulumi config set rootVolumeSize {running} (or more)")])


def _head_family_changed(head: NodeHardware, current: Deployed | None) -> bool:
    """The running head's type has GPUs and the new one none, or the other way round."""
    if not current or not current.head or current.head.instance_type == head.instance_type:
        return False
    running = aws.ec2.get_instance_type(instance_type=current.head.instance_type)
    changed = bool(running.gpuses) != bool(head.gpus)
    if changed:
        pulumi.log.warn(f"headInstanceType: {current.head.instance_type} -> {head.instance_type} needs the "
                        f"{'GPU' if head.gpus else 'Ubuntu'} AMI, so the head is replaced: the old one stops, "
                        "the new one mounts the data volume and keeps its history (running jobs end)")
    return changed


def node_kinds(s: AwsSettings, current: Deployed | None) -> tuple[NodeKind, NodeKind]:
    """The head's and the workers' kinds, each checked against its AMI's root volume."""
    head = _hardware(s, "headInstanceType", s.nodes.head_instance_type)
    worker = _hardware(s, "workerInstanceType", s.nodes.worker_instance_type)
    if s.nodes.ami_id:
        head_ami = worker_ami = _given_ami(s, (head, worker))
    else:
        head_ami = _newest_ami(bool(head.gpus))
        # One lookup serves both node kinds when they need the same kind of AMI.
        worker_ami = head_ami if bool(worker.gpus) == bool(head.gpus) else _newest_ami(bool(worker.gpus))
    _check_root_volume(s, [head_ami, worker_ami], current)
    looked_up = not s.nodes.ami_id

    def image(node: NodeHardware) -> str:
        return s.nodes.ray_image or (RAY_GPU_IMAGE if node.gpus else RAY_IMAGE)

    return (NodeKind(head, head_ami, image(head), keep_ami=looked_up and not _head_family_changed(head, current)),
            NodeKind(worker, worker_ami, image(worker), keep_ami=looked_up))
