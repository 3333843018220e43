"""Settings of the aws platform: region, network, access, instances."""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass

from components.builders.sizing import VOLUME_FILL, bytes_of
from components.versions import RAY_IMAGE
from stacks.settings.kubernetes import IMAGE
from stacks.settings.reader import DNS_LABEL, MEMORY, MEMORY_FLOOR_WHY, MIN_MEMORY_LIMIT, Reader, at_least
from stacks.settings.shared import MonitoringSettings, read_monitoring

REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")


@dataclass(frozen=True)
class AwsSettings:
    monitoring: MonitoringSettings
    region: str
    cluster_name: str
    vpc_id: str | None
    subnet_id: str | None
    allowed_cidrs: tuple[str, ...]
    head_instance_type: str
    worker_instance_type: str
    worker_count: int  # the workers' Auto Scaling Group's desired capacity
    worker_min_count: int
    worker_max_count: int
    key_name: str | None
    root_volume_size: int
    ami_id: str | None
    ami_has_nvidia_driver: bool  # the user's word that amiId can run GPU containers
    ray_image: str | None  # None: the pinned rayproject/ray (its -gpu variant on GPU instance types)
    data_volume_size: int  # GiB: Prometheus' TSDB, Grafana's and Alertmanager's data
    retain_data: bool  # `pulumi destroy` leaves the data volume
    prometheus_memory_limit: str  # the Prometheus container's memory cap on the head
    # An Amazon Managed Service for Prometheus workspace: the head writes to it, Grafana reads it (SigV4).
    managed_prometheus: bool = False


def read_aws(reader: Reader) -> AwsSettings:
    region = reader.string("aws:region", None, REGION, "must be an AWS region such as us-west-2", "us-west-2")
    if region is None and not any(p.startswith("aws:region") for p in reader.problems):
        reader.problem("aws:region", None, "is required", "pulumi config set aws:region us-west-2")
    allow_world = reader.boolean("allowWorldAccess", False)
    cidrs = []
    for cidr in reader.string_list("allowedCidrs") or []:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            reader.problem("allowedCidrs", cidr, "is not a CIDR block",
                           "list CIDRs such as 203.0.113.7/32 (your address: curl -s checkip.amazonaws.com)")
            continue
        if network.prefixlen == 0 and not allow_world:
            reader.problem("allowedCidrs", cidr, "opens the UIs and SSH to the whole internet",
                           "list your own address as /32, or set allowWorldAccess: true if you mean it")
            continue
        cidrs.append(str(network))
    instance_why = "must be an EC2 instance type such as m5.xlarge"
    managed = reader.boolean("managedPrometheus", False)
    monitoring = read_monitoring(reader, managed_store=managed)
    if managed and monitoring.store.query:
        reader.problem("grafanaQueryUrl", monitoring.store.query.url, "managedPrometheus points Grafana at its "
                       "workspace", "pulumi config rm grafanaQueryUrl (and grafanaQueryAuth), or pulumi config set "
                       "managedPrometheus false")
    worker_count = reader.integer("workerCount", 1, 0, 1000, 2)
    worker_min = reader.integer("workerMinCount", None, 0, 1000, 0)
    worker_max = reader.integer("workerMaxCount", None, 0, 1000, 10)
    worker_min = worker_count if worker_min is None else worker_min
    worker_max = max(worker_count, worker_min) if worker_max is None else worker_max
    if worker_count is not None and not worker_min <= worker_count <= worker_max:
        reader.problem("workerCount", worker_count,
                       f"must lie within workerMinCount ({worker_min}) and workerMaxCount ({worker_max})",
                       "raise workerMaxCount or lower workerMinCount, or change workerCount")
    ray_image = reader.string("rayImage", None, IMAGE, "must be a container image such as "
                              f"{RAY_IMAGE} or registry.example.com/team/ray:2.60.0-py311-gpu", RAY_IMAGE)
    return AwsSettings(
        monitoring=monitoring,
        managed_prometheus=managed,
        prometheus_memory_limit=_prometheus_memory_limit(reader) or monitoring.sizing.memory_limit,
        region=region or "",
        cluster_name=reader.string("clusterName", "ray-cluster", DNS_LABEL,
                                   "must be lowercase letters, digits and '-', at most 63", "ray-cluster"),
        vpc_id=reader.string("vpcId", None, re.compile(r"^vpc-[0-9a-f]{8,17}$"),
                             "must be a VPC id such as vpc-0123456789abcdef0", "vpc-0123456789abcdef0"),
        subnet_id=reader.string("subnetId", None, re.compile(r"^subnet-[0-9a-f]{8,17}$"),
                                "must be a subnet id such as subnet-0123456789abcdef0",
                                "subnet-0123456789abcdef0"),
        allowed_cidrs=tuple(dict.fromkeys(cidrs)),
        head_instance_type=reader.string("headInstanceType", "m5.xlarge", INSTANCE_TYPE, instance_why,
                                         "m5.xlarge"),
        worker_instance_type=reader.string("workerInstanceType", "m5.xlarge", INSTANCE_TYPE, instance_why,
                                           "m5.xlarge"),
        worker_count=worker_count,
        worker_min_count=worker_min,
        worker_max_count=worker_max,
        ray_image=ray_image,
        ami_has_nvidia_driver=reader.boolean("amiHasNvidiaDriver", False),
        data_volume_size=_data_volume_size(reader, monitoring),
        retain_data=reader.boolean("retainData", False),
        key_name=reader.string("keyName", None, re.compile(r"^[\x20-\x7e]{1,255}$"),
                               "must be the name of an existing EC2 key pair (or leave it unset)", "my-key"),
        root_volume_size=reader.integer("rootVolumeSize", 100, 8, 16384, 100),
        ami_id=reader.string("amiId", None, re.compile(r"^ami-[0-9a-f]{8,17}$"),
                             "must be an AMI id such as ami-0123456789abcdef0", "ami-0123456789abcdef0"),
    )


def _prometheus_memory_limit(reader: Reader) -> str | None:
    """Explicit, or None: sized from rayNodes."""
    value = reader.string("prometheusMemoryLimit", None, MEMORY, "must be a memory quantity such as 512Mi or 2Gi",
                          "1Gi")
    return value and at_least(reader, "prometheusMemoryLimit", value, MIN_MEMORY_LIMIT, MEMORY_FLOOR_WHY, "1Gi")


GRAFANA_AND_ALERTMANAGER_GIB = 2  # Grafana's database and Alertmanager's silences: small


def _data_volume_size(reader: Reader, monitoring: MonitoringSettings) -> int:
    """GiB: explicit, or Prometheus' retention cap at 80% full, plus Grafana's and Alertmanager's."""
    sized = math.ceil(bytes_of(monitoring.retention_size) / VOLUME_FILL / 2**30) + GRAFANA_AND_ALERTMANAGER_GIB
    value = reader.integer("dataVolumeSize", None, 1, 16384, max(sized, 20))
    if value is not None and value < sized:
        reader.problem("dataVolumeSize", value, f"is below the {sized} GiB the retention cap "
                       f"({monitoring.retention_size}) and Grafana need",
                       f"pulumi config set dataVolumeSize {sized}, or lower retentionSize")
    return value or sized
