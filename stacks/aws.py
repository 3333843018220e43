"""The aws stack: Ray on EC2, with Prometheus, Grafana and node_exporter run by Compose on the head."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable

import pulumi
import pulumi_aws as aws

from components.aws.data_volume import DataVolume, DataVolumeArgs
from components.aws.managed_prometheus import ManagedPrometheus, ManagedPrometheusArgs
from components.aws.monitoring_head import HeadSecret, MonitoringHead, MonitoringHeadArgs
from components.aws.node_role import NodeRole, NodeRoleArgs
from components.aws.ray_node import RayNode, RayNodeArgs
from components.aws.security_groups import SecurityGroups, SecurityGroupsArgs
from components.aws.worker_group import WorkerGroup, WorkerGroupArgs
from components.builders import (
    alert_rules,
    alertmanager_config,
    cloud_init,
    compose,
    grafana_ini,
    grafana_provisioning,
    grafana_tls,
    head_config,
    head_layout,
    prometheus_config,
    remote_write,
)
from components.builders.logs import compose_services as log_services
from components.builders.logs.compose_services import NodeLogs
from components.builders.logs.loki_config import LOKI_PORT
from components.builders.ray_head_env import ray_head_env, ray_node_env
from components.builders.remote_write import RemoteWriteTarget, StoreAuth
from components.builders.sizing import bytes_of
from components.constants import (
    ALERTMANAGER_PORT,
    GRAFANA_DASHBOARDS_DIR,
    GRAFANA_DATASOURCE_CREDENTIAL_FILE,
    GRAFANA_PORT,
    PROMETHEUS_PORT,
    RAY_DASHBOARD_PORT,
)
from stacks.aws_deployed import STACK_TAG, Deployed, deployed, stack_id
from stacks.aws_images import NodeHardware, NodeKind, node_kinds
from stacks.aws_network import subnets
from stacks.dashboards import ServedDashboards, image_ray_version, load_dashboards_for
from stacks.doctor import doctor_expectations
from stacks.notices import warn_if_viewers_query_a_shared_store
from stacks.settings import AwsSettings, ConfigError, describe_problem

LOCAL = "http://127.0.0.1"  # all services share the head's network
# Recreates the Ray head container so it reads its environment again (Compose project on the head).
HEAD_RESTART = (f"sudo docker compose --project-directory {head_layout.BASE} -f {head_layout.BASE}/compose.yaml "
                "up -d --force-recreate ray-head")


# What the head keeps for Ray: its object store (30% of memory by default) and ~2 GiB of processes.
RAY_OBJECT_STORE_SHARE = 0.3
RAY_HEAD_PROCESSES_MIB = 2048
OTHER_MONITORING_MIB = 512  # Grafana, node_exporter


# Who runs `pulumi up`, looked up at most once per run: the bucket's writers, the grants' account.
Caller = Callable[[], aws.AwaitableGetCallerIdentityResult]


def _config_writers(s: AwsSettings, caller: Caller) -> list[str]:
    """configWriterArns, else the principal running `pulumi up`: for an assumed role its role's ARN
    (with its path), which is what the bucket policy's aws:PrincipalArn compares."""
    if s.network.config_writers:
        return list(s.network.config_writers)
    return [aws.iam.get_session_context(arn=caller().arn).issuer_arn]


def _warn_if_ray_dashboard_open(s: AwsSettings) -> None:
    if s.network.open_ray_dashboard and s.network.allowed_cidrs:
        pulumi.log.warn(f"openRayDashboard: port {RAY_DASHBOARD_PORT} is open to {', '.join(s.network.allowed_cidrs)}; "
                        "it serves Ray's Jobs API, so whoever reaches it can run code on the head with its role "
                        "(docs/security.md), and over plain HTTP: Ray's token crosses those networks in the clear "
                        "with every request. The SSM port-forward reaches the dashboard without it.")


def _warn_if_head_too_small(s: AwsSettings, head: NodeHardware) -> None:
    memory_mib = head.memory_mib
    needed = bytes_of(s.data.prometheus_memory_limit) / 2**20 + OTHER_MONITORING_MIB
    room = memory_mib * (1 - RAY_OBJECT_STORE_SHARE) - RAY_HEAD_PROCESSES_MIB
    if needed > room:
        pulumi.log.warn(describe_problem(
            "headInstanceType", s.nodes.head_instance_type,
            f"its {memory_mib / 1024:.0f} GiB leave about {max(room, 0) / 1024:.1f} GiB beside the Ray head, but "
            f"monitoring {s.monitoring.ray_nodes} Ray nodes needs {needed / 1024:.1f} GiB (Prometheus limit "
            f"{s.data.prometheus_memory_limit} + Grafana and node_exporter)",
            "a larger headInstanceType, or lower rayNodes/retention if they overstate it"))


def _data_volume_size(settings: AwsSettings, current: Deployed | None) -> int:
    """GiB: the sized or configured size, never below the data volume's current size: EBS cannot
    shrink a volume, so a smaller size would fail every later `pulumi up`."""
    wanted, size = settings.data.volume_size, current.size if current else 0
    if wanted >= size:
        return wanted
    if settings.data.volume_size_configured:
        raise ConfigError([describe_problem("dataVolumeSize", wanted, f"is below the data volume's current "
                                            f"{size} GiB, and EBS cannot shrink a volume",
                                            f"pulumi config set dataVolumeSize {size} (or more)")])
    pulumi.log.info(f"the data volume keeps its {size} GiB (the sizing asks for {wanted} GiB; EBS cannot "
                    "shrink a volume)")
    return size


# An Amazon Managed Service for Prometheus workspace's endpoint: its write or query URL.
WORKSPACE_URL = re.compile(r"^https://aps-workspaces\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/workspaces/"
                           r"(?P<workspace>ws-[0-9a-zA-Z-]+)(/|$)")


@dataclass(frozen=True)
class StoreGrants:
    """What the head's role may do for the stores it signs SigV4 requests to, each scoped."""

    write_workspaces: tuple[str, ...] = ()  # aps:RemoteWrite
    query_workspaces: tuple[str, ...] = ()  # aps:QueryMetrics and the reads Grafana makes
    roles: tuple[str, ...] = ()  # sts:AssumeRole, for a store's roleArn


def _store_grants(s: AwsSettings, caller: Caller) -> StoreGrants:
    """The workspace each SigV4 URL names (or the role it says to assume). A SigV4 URL that names no
    workspace and no role is refused: nothing could be granted but `aps:*` on `*`."""
    store = s.monitoring.store
    grants: dict[str, list[str]] = {"write": [], "query": [], "role": []}
    # (key, where its roleArn goes, url, auth, use)
    signed = [("remoteWrite", f"remoteWrite[{i}].auth", w.url, w.auth, "write") for i, w in enumerate(store.writes)]
    if store.query:
        signed.append(("grafanaQueryAuth", "grafanaQueryAuth", store.query.url, store.query.auth, "query"))
    for key, where, url, auth, use in (item for item in signed if item[3].kind == "sigv4"):
        if auth.role_arn:
            grants["role"].append(auth.role_arn)
            continue
        match = WORKSPACE_URL.match(url)
        if not match:
            raise ConfigError([describe_problem(key, url, "is signed with the head's role (SigV4) but names no "
                                                "Amazon Managed Prometheus workspace, so no IAM grant can be "
                                                "scoped to it", f"name the role that may reach it: pulumi config "
                                                f"set --path '{where}.roleArn' arn:aws:iam::ACCOUNT:role/ROLE")])
        grants[use].append(f"arn:{aws.get_partition().partition}:aps:{match['region']}:{caller().account_id}:"
                           f"workspace/{match['workspace']}")
    return StoreGrants(*(tuple(dict.fromkeys(grants[k])) for k in ("write", "query", "role")))


def build(settings: AwsSettings) -> None:
    s, m = settings, settings.monitoring
    # Look-ups first: every check passes before the first resource is registered.
    current = deployed()  # what an earlier `pulumi up` left running: kept unless a setting says otherwise
    head_kind, worker_kind = node_kinds(s, current)
    placed = subnets(s, current)
    subnet = placed.head
    volume_size = _data_volume_size(s, current)
    caller: Caller = functools.cache(aws.get_caller_identity)
    grants, writers = _store_grants(s, caller), _config_writers(s, caller)
    _warn_if_head_too_small(s, head_kind.hardware)
    _warn_if_ray_dashboard_open(s)
    warn_if_viewers_query_a_shared_store(m, anonymous_viewers=True)
    # Grafana serves the dashboards of the Ray the head runs, unless rayVersion says otherwise.
    version, source = ((m.ray_version, "rayVersion") if m.ray_version
                       else (image_ray_version(head_kind.image), "the Ray version of rayImage"))
    served = load_dashboards_for(version, source, s.logs.enabled, precomputed=not m.store.agent)

    groups = SecurityGroups("security-groups", SecurityGroupsArgs(
        subnet.vpc_id, s.cluster_name, s.network.allowed_cidrs, ray_dashboard=s.network.open_ray_dashboard,
        grafana_tls=s.network.grafana_tls is not None, ssh=s.network.key_name is not None))
    managed = (ManagedPrometheus("managed-prometheus", ManagedPrometheusArgs(s.cluster_name))
               if s.data.managed_prometheus else None)
    # Everything a setting changes is an object in the bucket or a SecureString, applied on the head in place.
    monitoring = MonitoringHead("monitoring", MonitoringHeadArgs(
        s.cluster_name, _head_files(s, head_kind, managed, served), _head_secrets(s),
        m.grafana_iframe_host, public=bool(s.network.allowed_cidrs),
        parameter_prefix=f"/{stack_id()}/{s.cluster_name}", config_writers=writers,
        ray_token=s.network.ray_token_auth, given=m.given))
    head, workers = _nodes(s, Placement(subnet, placed.worker_ids, volume_size, grants), groups, monitoring, managed,
                           head_kind, worker_kind)
    _exports(s, head, monitoring, managed, served.version, workers)


def _head_secrets(s: AwsSettings) -> list[HeadSecret]:
    """Each credential the head needs beside Grafana's password, as an SSM SecureString and a file."""
    m, secrets = s.monitoring, []
    tls = s.network.grafana_tls
    if tls:
        # The certificate is no secret, but it travels beside its key, applied and reloaded with it.
        for name, value, file_name in (("certificate", tls.certificate, grafana_tls.CERTIFICATE),
                                       ("key", tls.key, grafana_tls.KEY)):
            secrets.append(HeadSecret(f"grafana-tls-{name}", f"grafana/tls-{name}", value,
                                      functools.partial(head_config.grafana_tls_file, file_name=file_name)))
    if m.alerting.deploys_alertmanager:
        # Holds the receivers' credentials.
        secrets.append(HeadSecret("alertmanager-config", "alertmanager/config",
                                  alertmanager_config.render(m.alerting.routing), head_config.alertmanager_config))
    for file_name, credential in m.store.write_credentials.items():
        secrets.append(HeadSecret(f"remote-write-{file_name}", f"prometheus/remote-write/{file_name}", credential,
                                  functools.partial(head_config.remote_write_credential, file_name=file_name)))
    secrets += _log_store_secrets(s)
    query = m.store.query
    if query and query.secret is not None:
        secrets.append(HeadSecret("grafana-datasource-credential", "grafana/datasource-credential", query.secret,
                                  head_config.datasource_credential))
    # In agent mode the head's Prometheus keeps nothing to query: Ray queries the store, with its credentials.
    if m.store.ray_query_headers is not None:
        secrets.append(HeadSecret("ray-prometheus-headers", "ray/prometheus-headers", m.store.ray_query_headers,
                                  head_config.ray_query_headers))
    return secrets


LOGS_HEADER_SECRET = "logs-authorization"  # the HeadSecret every node's collector reads


def _log_store_secrets(s: AwsSettings) -> list[HeadSecret]:
    """The user's Loki's credentials (logsUrl): Grafana's, and the collectors' header, which the workers read."""
    secrets, logs = [], s.logs
    if logs.query and logs.query.secret is not None:
        secrets.append(HeadSecret("grafana-logs-credential", "grafana/logs-credential", logs.query.secret,
                                  head_config.logs_credential))
    header = logs.store_authorization
    if header is not None:
        secrets.append(HeadSecret(LOGS_HEADER_SECRET, "logs/authorization", header,
                                  head_config.logs_authorization, workers_read=True))
    return secrets


def _collector_yaml(s: AwsSettings, loki_host: str) -> str | None:
    """A node's log collector configuration, sending to Loki on the head or to the user's; None without logs."""
    if not s.logs.enabled:
        return None
    return log_services.collector_yaml(s.logs.otlp_url(f"http://{loki_host}:{LOKI_PORT}"), s.cluster_name,
                                       s.logs.store_authorization is not None)


def _head_files(s: AwsSettings, head: NodeKind, managed: ManagedPrometheus | None,
                served: ServedDashboards) -> head_config.HeadFiles:
    m, store = s.monitoring, s.monitoring.store
    collector = _collector_yaml(s, "127.0.0.1")
    loki = log_services.loki_yaml(s.logs.retention) if s.logs.deploys_loki else None
    ray_prometheus = store.ray_query.url if store.ray_query else f"{LOCAL}:{PROMETHEUS_PORT}"
    env = ray_head_env(f"{LOCAL}:{GRAFANA_PORT}", ray_prometheus, m.datasource_name, "${RAY_GRAFANA_IFRAME_HOST}",
                       cardinality_level=m.cardinality_level)
    return head_config.HeadFiles(
        compose_yaml=compose.head_compose(env, m.retention_time, m.retention_size, s.data.prometheus_memory_limit,
                                          head.image, gpus=bool(head.hardware.gpus),
                                          alertmanager=m.alerting.deploys_alertmanager, agent=store.agent,
                                          ray_query_headers=store.ray_query_headers is not None,
                                          # With workers, tasks run there; without, the head must run them.
                                          head_runs_tasks=s.nodes.worker_max_count == 0,
                                          token_auth=s.network.ray_token_auth,
                                          grafana_tls=s.network.grafana_tls is not None,
                                          logs=NodeLogs(collector, "head") if collector else None, loki=loki),
        # Waits for the workspace's endpoint when there is one.
        prometheus_yml=(managed.remote_write_url.apply(lambda url: _prometheus_yml(s, url)) if managed
                        else _prometheus_yml(s)),
        alert_rules_yml=alert_rules.render(m.alerts, served.rules),
        grafana_ini=grafana_ini.grafana_ini(sigv4=bool(managed) or store.query_signs_sigv4,
                                            https=s.network.grafana_tls is not None),
        datasources_yaml=_datasources(s, managed),
        dashboard_providers_yaml=grafana_provisioning.dashboard_provisioning(GRAFANA_DASHBOARDS_DIR),
        dashboards={d.file_name: d.content for d in served.dashboards},
        grafana_tls_conf=grafana_tls.nginx_conf() if s.network.grafana_tls else None,
        collector_yaml=collector,
        loki_yaml=loki,
    )


def _prometheus_yml(s: AwsSettings, workspace_write_url: str | None = None) -> str:
    m, store = s.monitoring, s.monitoring.store
    workspace = ((RemoteWriteTarget(workspace_write_url, StoreAuth("sigv4", region=s.region)),)
                 if workspace_write_url else ())
    return prometheus_config.render(prometheus_config.file_sd_config(
        prometheus_config.ScrapeSettings(
            m.scrape_interval, (alert_rules.DEPLOYED_PATH,),
            f"{LOCAL}:{ALERTMANAGER_PORT}" if m.alerting.deploys_alertmanager else m.alerting.external_url,
            tuple(remote_write.remote_write_block(store.targets + workspace, m.sizing.samples_per_second)),
            store.agent),
        s.cluster_name))


def _datasources(s: AwsSettings, managed: ManagedPrometheus | None) -> pulumi.Input[str]:
    """Grafana's datasource: the managed workspace, the store, or our Prometheus."""
    name, query = s.monitoring.datasource_name, s.monitoring.store.query
    logs = s.logs.grafana_source(f"{LOCAL}:{LOKI_PORT}") if s.logs.enabled else None
    if managed:
        # The workspace's SigV4 endpoint, signed with the head's role (Ray's dashboard keeps our Prometheus).
        return managed.query_url.apply(lambda url: grafana_provisioning.datasource_provisioning(
            name, url, StoreAuth("sigv4", region=s.region), logs=logs))
    if query:
        return grafana_provisioning.datasource_provisioning(name, query.url, query.auth,
                                                            GRAFANA_DATASOURCE_CREDENTIAL_FILE, logs=logs)
    return grafana_provisioning.datasource_provisioning(name, f"{LOCAL}:{PROMETHEUS_PORT}", logs=logs)


@dataclass(frozen=True)
class Placement:
    subnet: aws.ec2.AwaitableGetSubnetResult  # the head's (its zone holds the data volume)
    worker_subnet_ids: list[str]
    volume_size: int  # GiB, never below the volume's current size
    grants: StoreGrants  # for the stores the head signs SigV4 requests to


def _nodes(s: AwsSettings, place: Placement, groups: SecurityGroups,
           monitoring: MonitoringHead, managed: ManagedPrometheus | None, head_kind: NodeKind,
           worker_kind: NodeKind) -> tuple[RayNode, WorkerGroup | None]:
    """The roles, the data volume, the head and the workers' group (none when workerMaxCount is 0)."""
    managed_workspace = [managed.workspace_arn] if managed else []
    head_role = NodeRole("head-role", NodeRoleArgs(
        s.cluster_name, monitoring.parameter_arns, [monitoring.object_arns],
        write_workspaces=[*managed_workspace, *place.grants.write_workspaces],
        query_workspaces=[*managed_workspace, *place.grants.query_workspaces], assume_roles=place.grants.roles,
        decrypt_keys=[monitoring.key_arn]))
    # The workers read Ray's token and their log store's header at boot, and nothing else.
    token, header = monitoring.ray_token_parameter, monitoring.worker_parameters.get(LOGS_HEADER_SECRET)
    readable = [p.parameter_arn for p in (token, header) if p is not None]
    worker_role = NodeRole("worker-role", NodeRoleArgs(s.cluster_name, readable, [],
                                                       decrypt_keys=[monitoring.key_arn] if readable else []))
    data = DataVolume("monitoring-data", DataVolumeArgs(s.cluster_name, place.subnet.availability_zone,
                                                        place.volume_size, s.data.retain,
                                                        tags={STACK_TAG: stack_id()}))
    # The head's user-data only bootstraps: the bucket, the region and the data volume.
    # Through the manifest's id, the head waits for the manifest its first boot applies.
    head_data = pulumi.Output.all(monitoring.bucket_name, data.volume.id, monitoring.manifest_id).apply(
        lambda args: cloud_init.head_user_data(cloud_init.HeadBoot(s.region, args[0], args[1],
                                                                   monitoring.signing_key_parameter)))
    node: dict[str, Any] = dict(cluster_name=s.cluster_name, key_name=s.network.key_name,
                                root_volume_size=s.nodes.root_volume_size)
    head = RayNode("head", RayNodeArgs(
        ami_id=head_kind.ami.id, keep_ami=head_kind.keep_ami, tags={STACK_TAG: stack_id()},
        instance_type=s.nodes.head_instance_type, user_data=head_data,
        security_group_ids=[groups.cluster_group_id, groups.access_group_id], subnet_id=place.subnet.id,
        instance_profile_name=head_role.instance_profile_name, elastic_ip=s.network.head_elastic_ip, **node))
    data.attach(head.instance)
    workers = None
    if s.nodes.worker_max_count:
        # The secrets' versions are in the user-data: a rotated token or header is a new launch template, which
        # rolls the workers onto it; through the parameters, the workers launch after their secrets exist.
        worker_data = pulumi.Output.all(head.instance.private_ip, token.version if token else 0,
                                        header.version if header else 0).apply(
            lambda args: _worker_user_data(s, worker_kind, args[0], token, int(args[1]), header, int(args[2])))
        workers = WorkerGroup("workers", WorkerGroupArgs(
            ami_id=worker_kind.ami.id, keep_ami=worker_kind.keep_ami, gpus=bool(worker_kind.hardware.gpus),
            root_device_name=worker_kind.ami.root_device_name,
            instance_type=s.nodes.worker_instance_type, user_data=worker_data,
            security_group_ids=[groups.cluster_group_id], instance_profile_name=worker_role.instance_profile_name,
            desired=s.nodes.worker_count, minimum=s.nodes.worker_min_count, maximum=s.nodes.worker_max_count,
            subnet_ids=place.worker_subnet_ids, public_ip=not s.network.worker_subnet_ids, **node))
    return head, workers


def _worker_user_data(s: AwsSettings, worker: NodeKind, head_address: str, token: Any, token_version: int,
                      header: Any, header_version: int) -> str:
    """A worker's cloud-init: Ray joining the head, node_exporter, and the log collector sending to the head
    (or to the user's Loki, with its header)."""
    collector = _collector_yaml(s, head_address)
    return cloud_init.worker_user_data(
        compose.worker_compose(head_address, worker.image, gpus=bool(worker.hardware.gpus), token_auth=bool(token),
                               node_env=ray_node_env(s.monitoring.cardinality_level),
                               logs=NodeLogs(collector, "worker") if collector else None),
        cloud_init.WorkerToken(s.region, token.parameter_name, token_version) if token else None,
        collector_yaml=collector,
        logs_header=cloud_init.WorkerToken(s.region, header.parameter_name, header_version) if header else None)


def _exports(s: AwsSettings, head: RayNode, monitoring: MonitoringHead, managed: ManagedPrometheus | None,
             served_version: str, workers: WorkerGroup | None) -> None:
    m, public = s.monitoring, bool(s.network.allowed_cidrs)
    # Without VPC DNS hostnames there is no public name: the address serves.
    public_host = pulumi.Output.all(head.public_dns, head.public_ip).apply(lambda a: a[0] or a[1])
    host = public_host if public else pulumi.Output.from_input("localhost")

    def url(port: int) -> pulumi.Output[str]:
        return pulumi.Output.concat("http://", host, f":{port}")

    # Port 8265 is open to allowedCidrs only with openRayDashboard; else the tunnel reaches it.
    ray_dashboard_url = (url(RAY_DASHBOARD_PORT) if s.network.open_ray_dashboard
                         else pulumi.Output.from_input(f"http://localhost:{RAY_DASHBOARD_PORT}"))

    forwards = " ".join(f"-L {p}:localhost:{p}" for p in (RAY_DASHBOARD_PORT, GRAFANA_PORT, PROMETHEUS_PORT))
    pulumi.export("headPublicDns", head.public_dns)
    pulumi.export("headPublicIp", head.public_ip)
    # With TLS, the one Grafana address to use from a network: the certificate's name.
    grafana_url = (pulumi.Output.from_input(m.grafana_iframe_host or "") if s.network.grafana_tls
                   else url(GRAFANA_PORT))
    pulumi.export("grafanaUrl", grafana_url)
    pulumi.export("prometheusUrl", url(PROMETHEUS_PORT))
    pulumi.export("rayDashboardUrl", ray_dashboard_url)
    pulumi.export("sshTunnel", pulumi.Output.concat(f"ssh {forwards} ubuntu@", public_host))
    pulumi.export("ssmPortForward", pulumi.Output.concat(
        "aws ssm start-session --region ", s.region, " --target ", head.instance.id,
        " --document-name AWS-StartPortForwardingSession",
        f" --parameters portNumber={GRAFANA_PORT},localPortNumber={GRAFANA_PORT}"))
    pulumi.export("grafanaAdminPassword", monitoring.admin_password)
    if monitoring.ray_token is not None:
        # The Ray Dashboard asks for it; `ray job submit` reads it from RAY_AUTH_TOKEN (docs/security.md).
        pulumi.export("rayAuthToken", monitoring.ray_token)
    pulumi.export("rayDashboardsVersion", served_version)
    if managed:
        pulumi.export("managedPrometheusQueryUrl", managed.query_url)
    if m.store.agent:
        # Agent mode evaluates no rules: load these into the store's ruler (docs/remote-storage.md).
        pulumi.export("alertRules", alert_rules.render(m.alerts))
    # What `python -m doctor --stack NAME` reaches and expects: the URLs above (open the tunnel first
    # when they are localhost).
    iframe_host = (m.grafana_iframe_host if m.grafana_iframe_host
                   else url(GRAFANA_PORT) if public else f"http://localhost:{GRAFANA_PORT}")
    # A secret: the CLI shows it as one line in every preview and up; the doctor reads it with --show-secrets.
    pulumi.export("doctor", pulumi.Output.secret({
        "platform": "aws",
        "urls": {"prometheus": url(PROMETHEUS_PORT), "grafana": grafana_url,
                 "rayDashboard": ray_dashboard_url},
        **doctor_expectations(m, iframe_host, s.data.prometheus_memory_limit, node_exporter=True,
                              restart_command=f"on the head: {HEAD_RESTART}", dashboards_version=served_version,
                              logs=s.logs.enabled, managed_store=bool(managed)),
        # Ray's live nodes against what EC2 launched: a worker that never joins leaves its group.
        "launchedNodes": 1 + (s.nodes.worker_count if workers else 0),
        "launchedFix": pulumi.Output.concat(
            "see why in the group's activity: aws autoscaling describe-scaling-activities --region ", s.region,
            " --auto-scaling-group-name ", workers.group.name if workers else "(none)",
            "; and a worker's boot: aws ec2 get-console-output --instance-id ID (cloud-init's start.sh)"),
    }))
