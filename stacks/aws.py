"""The aws stack: Ray on EC2, with Prometheus, Grafana and node_exporter run by Compose on the head."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws.dashboard_bucket import DashboardBucket, DashboardBucketArgs
from components.aws.grafana_password import GrafanaPassword, GrafanaPasswordArgs
from components.aws.node_role import NodeRole, NodeRoleArgs
from components.aws.ray_node import RayNode, RayNodeArgs
from components.aws.secret_parameter import SecretParameter, SecretParameterArgs
from components.aws.security_groups import SecurityGroups, SecurityGroupsArgs
from components.builders import (
    alert_rules,
    alertmanager_config,
    cloud_init,
    compose,
    grafana_config,
    prometheus_config,
)
from components.builders.ray_head_env import ray_head_env
from components.builders.sizing import bytes_of
from components.constants import (
    ALERTMANAGER_PORT,
    GRAFANA_DASHBOARDS_DIR,
    GRAFANA_PORT,
    PROMETHEUS_PORT,
    RAY_DASHBOARD_PORT,
)
from components.versions import UBUNTU_AMI_NAME, UBUNTU_AMI_OWNER
from stacks.dashboards import load_dashboards_for
from stacks.doctor import doctor_expectations
from stacks.settings import AwsSettings, ConfigError, describe_problem

LOCAL = "http://127.0.0.1"  # all services share the head's network
# Recreates the Ray head container so it reads its environment again (Compose project on the head).
HEAD_RESTART = (f"sudo docker compose --project-directory {compose.BASE} -f {compose.BASE}/compose.yaml "
                "up -d --force-recreate ray-head")


def _ami(settings: AwsSettings) -> aws.ec2.AwaitableGetAmiResult:
    if settings.ami_id:
        # Any owner the account can launch from: the id was chosen by the user.
        return aws.ec2.get_ami(filters=[{"name": "image-id", "values": [settings.ami_id]}],
                               owners=["self", "amazon", "aws-marketplace", UBUNTU_AMI_OWNER])
    return aws.ec2.get_ami(most_recent=True, owners=[UBUNTU_AMI_OWNER],
                           filters=[{"name": "name", "values": [UBUNTU_AMI_NAME]},
                                    {"name": "virtualization-type", "values": ["hvm"]}])


def _root_volume_size(ami: aws.ec2.AwaitableGetAmiResult) -> int | None:
    for device in ami.block_device_mappings:
        if device.device_name == ami.root_device_name and device.ebs:
            size = device.ebs.get("volume_size") or device.ebs.get("volumeSize")
            return int(size) if size else None
    return None


# What the head keeps for Ray: its object store (30% of memory by default) and ~2 GiB of processes.
RAY_OBJECT_STORE_SHARE = 0.3
RAY_HEAD_PROCESSES_MIB = 2048
OTHER_MONITORING_MIB = 512  # Grafana, node_exporter


def _warn_if_head_too_small(s: AwsSettings) -> None:
    memory_mib = aws.ec2.get_instance_type(instance_type=s.head_instance_type).memory_size
    needed = bytes_of(s.prometheus_memory_limit) / 2**20 + OTHER_MONITORING_MIB
    room = memory_mib * (1 - RAY_OBJECT_STORE_SHARE) - RAY_HEAD_PROCESSES_MIB
    if needed > room:
        pulumi.log.warn(describe_problem(
            "headInstanceType", s.head_instance_type,
            f"its {memory_mib / 1024:.0f} GiB leave about {max(room, 0) / 1024:.1f} GiB beside the Ray head, but "
            f"monitoring {s.monitoring.ray_nodes} Ray nodes needs {needed / 1024:.1f} GiB (Prometheus limit "
            f"{s.prometheus_memory_limit} + Grafana and node_exporter)",
            "a larger headInstanceType, or lower rayNodes/retention if they overstate it"))


def _network(settings: AwsSettings) -> tuple[str, str]:
    if settings.subnet_id:
        subnet = aws.ec2.get_subnet(id=settings.subnet_id)
        if settings.vpc_id and subnet.vpc_id != settings.vpc_id:
            raise ConfigError([describe_problem("subnetId", settings.subnet_id,
                                                f"is in {subnet.vpc_id}, not vpcId {settings.vpc_id}",
                                                "pulumi config rm vpcId, or pick a subnet of that VPC")])
        return subnet.vpc_id, subnet.id
    vpc_id = settings.vpc_id or aws.ec2.get_vpc(default=True).id
    subnets = sorted(aws.ec2.get_subnets(filters=[{"name": "vpc-id", "values": [vpc_id]}]).ids)
    if not subnets:
        raise ConfigError([describe_problem("vpcId", vpc_id, "has no subnets",
                                            "pulumi config set subnetId subnet-...")])
    return vpc_id, subnets[0]


def build(settings: AwsSettings) -> None:
    s, m = settings, settings.monitoring
    # Look-ups first: every check passes before the first resource is registered.
    ami = _ami(s)
    ami_root = _root_volume_size(ami)
    if ami_root and s.root_volume_size < ami_root:
        raise ConfigError([describe_problem("rootVolumeSize", s.root_volume_size,
                                            f"is smaller than the AMI's root volume ({ami_root} GiB)",
                                            f"pulumi config set rootVolumeSize {max(ami_root, 100)}")])
    vpc_id, subnet_id = _network(s)
    _warn_if_head_too_small(s)
    # EC2 runs the pinned image (components/versions.py), unless rayVersion says otherwise.
    served_version, dashboards = load_dashboards_for(m.ray_version, "rayVersion")

    alerting = m.alerting
    groups = SecurityGroups("security-groups", SecurityGroupsArgs(vpc_id, s.cluster_name, s.allowed_cidrs,
                                                                  alerting.deploys_alertmanager))
    password = GrafanaPassword("grafana-admin-password", GrafanaPasswordArgs(s.cluster_name))
    bucket = DashboardBucket("dashboards", DashboardBucketArgs(s.cluster_name, dashboards))
    secret_parameters = [password.parameter_arn]
    alertmanager_parameter = None
    if alerting.deploys_alertmanager:
        # Holds the receivers' credentials: an SSM SecureString the head reads at boot.
        alertmanager_parameter = SecretParameter("alertmanager-config", SecretParameterArgs(
            s.cluster_name, "alertmanager/config", pulumi.Output.secret(alertmanager_config.render(alerting.routing))))
        secret_parameters.append(alertmanager_parameter.parameter_arn)
    head_role = NodeRole("head-role", NodeRoleArgs(s.cluster_name, secret_parameters, [bucket.object_arns]))
    worker_role = NodeRole("worker-role", NodeRoleArgs(s.cluster_name, [], []))

    env = ray_head_env(f"{LOCAL}:{GRAFANA_PORT}", f"{LOCAL}:{PROMETHEUS_PORT}", m.datasource_name,
                       "${RAY_GRAFANA_IFRAME_HOST}")
    public = bool(s.allowed_cidrs)
    head_data = bucket.bucket_name.apply(lambda bucket_name: cloud_init.head_user_data(
        cloud_init.HeadBoot(s.region, password.parameter_name, bucket_name, bucket.keys, m.grafana_iframe_host,
                            public, alertmanager_parameter.parameter_name if alertmanager_parameter else None),
        compose.head_compose(env, m.retention_time, m.retention_size, s.prometheus_memory_limit,
                             alertmanager=alerting.deploys_alertmanager),
        prometheus_config.render(prometheus_config.file_sd_config(
            prometheus_config.ScrapeSettings(
                m.scrape_interval, (alert_rules.DEPLOYED_PATH,),
                f"{LOCAL}:{ALERTMANAGER_PORT}" if alerting.deploys_alertmanager else alerting.external_url),
            s.cluster_name)),
        alert_rules.render(m.alerts),
        grafana_config.grafana_ini(),
        grafana_config.datasource_provisioning(m.datasource_name, f"{LOCAL}:{PROMETHEUS_PORT}"),
        grafana_config.dashboard_provisioning(GRAFANA_DASHBOARDS_DIR),
    ))
    node = dict(cluster_name=s.cluster_name, ami_id=ami.id, subnet_id=subnet_id, key_name=s.key_name,
                root_volume_size=s.root_volume_size)
    head = RayNode("head", RayNodeArgs(
        role="head", instance_type=s.head_instance_type, user_data=head_data,
        security_group_ids=[groups.cluster_group_id, groups.access_group_id],
        instance_profile_name=head_role.instance_profile_name, **node))
    worker_data = head.instance.private_ip.apply(lambda ip: cloud_init.worker_user_data(compose.worker_compose(ip)))
    for index in range(s.worker_count):
        RayNode(f"worker-{index}", RayNodeArgs(
            role="worker", instance_type=s.worker_instance_type, user_data=worker_data,
            security_group_ids=[groups.cluster_group_id], instance_profile_name=worker_role.instance_profile_name,
            **node))

    host = head.instance.public_dns if public else pulumi.Output.from_input("localhost")
    url = lambda port: pulumi.Output.concat("http://", host, f":{port}")  # noqa: E731
    forwards = " ".join(f"-L {p}:localhost:{p}" for p in (RAY_DASHBOARD_PORT, GRAFANA_PORT, PROMETHEUS_PORT))
    pulumi.export("headPublicDns", head.instance.public_dns)
    pulumi.export("headPublicIp", head.instance.public_ip)
    pulumi.export("grafanaUrl", url(GRAFANA_PORT))
    pulumi.export("prometheusUrl", url(PROMETHEUS_PORT))
    pulumi.export("rayDashboardUrl", url(RAY_DASHBOARD_PORT))
    pulumi.export("sshTunnel", pulumi.Output.concat(f"ssh {forwards} ubuntu@", head.instance.public_dns))
    pulumi.export("ssmPortForward", pulumi.Output.concat(
        "aws ssm start-session --region ", s.region, " --target ", head.instance.id,
        " --document-name AWS-StartPortForwardingSession",
        f" --parameters portNumber={GRAFANA_PORT},localPortNumber={GRAFANA_PORT}"))
    pulumi.export("grafanaAdminPassword", password.value)
    pulumi.export("rayDashboardsVersion", served_version)
    # What `python -m doctor --stack NAME` reaches and expects: the URLs above (open the tunnel first
    # when they are localhost).
    iframe_host = (m.grafana_iframe_host if m.grafana_iframe_host
                   else url(GRAFANA_PORT) if public else f"http://localhost:{GRAFANA_PORT}")
    pulumi.export("doctor", {
        "platform": "aws",
        "urls": {"prometheus": url(PROMETHEUS_PORT), "grafana": url(GRAFANA_PORT),
                 "rayDashboard": url(RAY_DASHBOARD_PORT)},
        **doctor_expectations(m, iframe_host, s.prometheus_memory_limit, node_exporter=True,
                              restart_command=f"on the head: {HEAD_RESTART}"),
    })
