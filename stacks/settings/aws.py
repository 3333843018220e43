"""Settings of the aws platform, by concern: network and access, the nodes, the head's data."""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass

from components.builders.logs.sizing import loki_disk_gib
from components.builders.sizing import VOLUME_FILL, bytes_of
from stacks.settings.formats import SUBNET_ID
from stacks.settings.logs import LogsSettings, read_logs
from stacks.settings.networks import covers_the_internet
from stacks.settings.reader import Reader
from stacks.settings.shared import MonitoringSettings, read_monitoring


@dataclass(frozen=True)
class GrafanaTls:
    """Grafana over HTTPS on the head, with the user's certificate for grafanaIframeHost's name."""

    certificate: str  # PEM chain
    key: str  # PEM private key: a Pulumi secret


@dataclass(frozen=True)
class Network:
    vpc_id: str | None  # None: the default VPC
    subnet_id: str | None  # None: the default VPC's first subnet in a zone offering the types (then kept)
    allowed_cidrs: tuple[str, ...]  # who reaches SSH and the UIs on the head; empty: nobody (use the tunnels)
    key_name: str | None  # EC2 key pair for SSH; None: SSM only
    open_ray_dashboard: bool  # port 8265 (the Jobs API: code execution) open to allowed_cidrs
    head_elastic_ip: bool  # the head keeps its public address across a stop/start
    # The workers' subnets, vouched to route out through NAT; empty: the head's subnet with public IPv4s.
    worker_subnet_ids: tuple[str, ...]
    config_writers: tuple[str, ...]  # may write the configuration bucket; empty: the deploying principal
    ray_token_auth: bool  # Ray's token authentication on every node, with a generated token
    grafana_tls: GrafanaTls | None  # None: Grafana over plain HTTP (reach it through the tunnels)


@dataclass(frozen=True)
class Nodes:
    head_instance_type: str
    worker_instance_type: str
    worker_count: int  # the workers' Auto Scaling Group's desired capacity
    worker_min_count: int
    worker_max_count: int
    root_volume_size: int  # GiB
    ami_id: str | None  # None: looked up (Ubuntu, or the GPU AMI on GPU types)
    ami_has_nvidia_driver: bool  # the user's word that ami_id can run GPU containers
    ray_image: str | None  # None: the pinned rayproject/ray (its -gpu variant on GPU instance types)


@dataclass(frozen=True)
class HeadData:
    volume_size: int  # GiB: Prometheus' TSDB, Grafana's and Alertmanager's data
    volume_size_configured: bool  # dataVolumeSize set (else sized from the retention cap)
    retain: bool  # `pulumi destroy` leaves the data volume
    replace_volume: bool  # a change of zone may make a new, empty data volume (else it is refused)
    prometheus_memory_limit: str  # the Prometheus container's memory cap on the head
    # An Amazon Managed Service for Prometheus workspace: the head writes to it, Grafana reads it (SigV4).
    managed_prometheus: bool


@dataclass(frozen=True)
class AwsSettings:
    monitoring: MonitoringSettings
    logs: LogsSettings
    region: str
    cluster_name: str
    network: Network
    nodes: Nodes
    data: HeadData


def read_aws(reader: Reader) -> AwsSettings:
    region = reader.optional_text("aws:region")
    managed = reader.flag("managedPrometheus")
    monitoring = read_monitoring(reader, managed_store=managed, node_exporter=True)
    if managed and monitoring.store.query:
        reader.problem("grafanaQueryUrl", monitoring.store.query.url, "managedPrometheus points Grafana at its "
                       "workspace", "pulumi config rm grafanaQueryUrl (and grafanaQueryAuth), or pulumi config set "
                       "managedPrometheus false")
    vpc_id, subnet_id = reader.optional_text("vpcId"), reader.optional_text("subnetId")
    if vpc_id and not subnet_id:
        # A VPC's subnets may be private or isolated: which one routes out is the user's to say.
        reader.problem("vpcId", vpc_id, "needs subnetId: the head must run in a subnet that routes out (an "
                       "internet gateway, or NAT with headElasticIp: false), and only you know which does",
                       "pulumi config set subnetId subnet-... (a subnet of that VPC)")
    logs = read_logs(reader)
    return AwsSettings(
        monitoring=monitoring,
        logs=logs,
        region=region or "",
        cluster_name=reader.text("clusterName"),
        network=Network(
            vpc_id=vpc_id,
            subnet_id=subnet_id,
            allowed_cidrs=_allowed_cidrs(reader),
            key_name=reader.optional_text("keyName"),
            open_ray_dashboard=reader.flag("openRayDashboard"),
            head_elastic_ip=reader.flag("headElasticIp"),
            worker_subnet_ids=_worker_subnets(reader),
            config_writers=_config_writers(reader),
            ray_token_auth=reader.flag("rayTokenAuth"),
            grafana_tls=_grafana_tls(reader, monitoring.grafana_iframe_host),
        ),
        nodes=_nodes(reader),
        data=HeadData(
            volume_size=_data_volume_size(reader, monitoring, logs),
            volume_size_configured=reader.optional_number("dataVolumeSize") is not None,
            retain=reader.flag("retainData"),
            replace_volume=reader.flag("replaceDataVolume"),
            prometheus_memory_limit=reader.optional_text("prometheusMemoryLimit") or monitoring.sizing.memory_limit,
            managed_prometheus=managed,
        ),
    )


def _allowed_cidrs(reader: Reader) -> tuple[str, ...]:
    allow_world = reader.flag("allowWorldAccess")
    cidrs = []
    for cidr in reader.strings("allowedCidrs") or []:
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
    if not allow_world and cidrs and covers_the_internet([ipaddress.ip_network(c) for c in cidrs]):
        reader.problem("allowedCidrs", cidrs, "together cover every public address, as 0.0.0.0/0 or ::/0 would",
                       "list your own addresses (as /32), or set allowWorldAccess: true if you mean it")
    return tuple(dict.fromkeys(cidrs))




PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$")


def _config_writers(reader: Reader) -> tuple[str, ...]:
    writers = reader.strings("configWriterArns") or []
    for arn in writers:
        if not PRINCIPAL_ARN.fullmatch(arn):
            reader.problem("configWriterArns", arn, "is not an IAM role or user ARN (the bucket policy compares "
                           "aws:PrincipalArn, which for an assumed role is the role's ARN)",
                           "list ARNs such as arn:aws:iam::123456789012:role/deployer")
    return tuple(dict.fromkeys(writers))


def _grafana_tls(reader: Reader, iframe_host: str | None) -> GrafanaTls | None:
    certificate, key = reader.optional_text("grafanaTlsCertificate"), reader.optional_text("grafanaTlsKey")
    if certificate is None and key is None:
        return None
    if key is not None and not reader.secret("grafanaTlsKey"):
        reader.problem("grafanaTlsKey", "<hidden>", "is a private key but not a Pulumi secret",
                       "pulumi config rm grafanaTlsKey; "
                       "pulumi config set --secret grafanaTlsKey -- \"$(cat privkey.pem)\"")
    if certificate is None or key is None:
        missing = "grafanaTlsKey" if key is None else "grafanaTlsCertificate"
        reader.problem(missing, None, "is needed with the other of grafanaTlsCertificate and grafanaTlsKey",
                       f"pulumi config set {'--secret ' if key is None else ''}{missing} -- \"$(cat ...pem)\"")
        return None
    if not (iframe_host or "").startswith("https://"):
        reader.problem("grafanaIframeHost", iframe_host, "must be the https:// address whose name the certificate "
                       "holds (browsers load Grafana there)",
                       "pulumi config set grafanaIframeHost https://grafana.example.com:3443")
    return GrafanaTls(certificate, key)


def _worker_subnets(reader: Reader) -> tuple[str, ...]:
    subnets = reader.strings("workerSubnetIds") or []
    for subnet in subnets:
        if not SUBNET_ID.fullmatch(subnet):
            reader.problem("workerSubnetIds", subnet, "is not a subnet id",
                           "list subnet ids such as subnet-0123456789abcdef0, each with a NAT route out")
    return tuple(dict.fromkeys(subnets))


def _nodes(reader: Reader) -> Nodes:
    worker_count = reader.number("workerCount")
    worker_min = reader.optional_number("workerMinCount")
    worker_max = reader.optional_number("workerMaxCount")
    worker_min = worker_count if worker_min is None else worker_min
    worker_max = max(worker_count, worker_min) if worker_max is None else worker_max
    if not worker_min <= worker_count <= worker_max:
        reader.problem("workerCount", worker_count,
                       f"must lie within workerMinCount ({worker_min}) and workerMaxCount ({worker_max})",
                       "raise workerMaxCount or lower workerMinCount, or change workerCount")
    return Nodes(
        head_instance_type=reader.text("headInstanceType"),
        worker_instance_type=reader.text("workerInstanceType"),
        worker_count=worker_count,
        worker_min_count=worker_min,
        worker_max_count=worker_max,
        root_volume_size=reader.number("rootVolumeSize"),
        ami_id=reader.optional_text("amiId"),
        ami_has_nvidia_driver=reader.flag("amiHasNvidiaDriver"),
        ray_image=reader.optional_text("rayImage"),
    )


GRAFANA_AND_ALERTMANAGER_GIB = 2  # Grafana's database and Alertmanager's silences: small


def _data_volume_size(reader: Reader, monitoring: MonitoringSettings, logs: LogsSettings) -> int:
    """GiB: explicit, or Prometheus' retention cap at 80% full, plus Grafana's and Alertmanager's, and with
    `logs` Loki's plan for Ray's own logs. An explicit size must hold the first two (Prometheus' cap is
    enforced, so a smaller volume fills); Loki's share is a plan, not a cap (docs/logs.md), so it is not refused."""
    needed = math.ceil(bytes_of(monitoring.retention_size) / VOLUME_FILL / 2**30) + GRAFANA_AND_ALERTMANAGER_GIB
    value = reader.optional_number("dataVolumeSize")
    if value is not None and value < needed:
        reader.problem("dataVolumeSize", value, f"is below the {needed} GiB the retention cap "
                       f"({monitoring.retention_size}) and Grafana need",
                       f"pulumi config set dataVolumeSize {needed}, or lower retentionSize")
    return value or needed + (loki_disk_gib(monitoring.ray_nodes, logs.retention) if logs.deploys_loki else 0)
