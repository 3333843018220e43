"""The head's data volume: Prometheus' TSDB and Grafana's database on their own encrypted gp3 EBS
volume, so a replaced head (new AMI, instance type, bootstrap) keeps its history."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

DEVICE_NAME = "/dev/sdf"  # the boot script finds it by volume id (NVMe) or as /dev/xvdf (Xen)


@dataclass(frozen=True)
class DataVolumeArgs:
    cluster_name: str
    availability_zone: str  # the head's subnet's: a volume attaches only in its own zone
    size_gib: int
    retain: bool  # retainData: `pulumi destroy` leaves the volume (and its history) behind
    tags: dict[str, str] = field(default_factory=dict)  # beside Name and ray-cluster: the stack's own


class DataVolume(pulumi.ComponentResource):
    volume: aws.ebs.Volume

    def __init__(self, name: str, args: DataVolumeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:aws:DataVolume", name, None, opts)
        self._name = name
        self.volume = aws.ebs.Volume(
            f"{name}-volume", availability_zone=args.availability_zone, size=args.size_gib, type="gp3",
            encrypted=True, final_snapshot=False,
            tags={"Name": f"{args.cluster_name}-monitoring-data", "ray-cluster": args.cluster_name, **args.tags},
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain))
        self.register_outputs({"volume_id": self.volume.id})

    def attach(self, instance: aws.ec2.Instance) -> aws.ec2.VolumeAttachment:
        """Attached after the head is created. A replaced head takes it over: the attachment to the old
        head goes first, stopping that head so Prometheus and Grafana shut down cleanly and nothing writes
        the filesystem while it moves."""
        return aws.ec2.VolumeAttachment(
            f"{self._name}-attachment", device_name=DEVICE_NAME, volume_id=self.volume.id, instance_id=instance.id,
            stop_instance_before_detaching=True,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True))
