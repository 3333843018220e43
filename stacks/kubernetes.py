"""The minikube stack (any Kubernetes with KubeRay): KubeRay and a RayCluster when asked, our Prometheus
and Grafana or the user's Prometheus Operator, and the Ray heads' environment."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.builders import alert_rules, alertmanager_config, grafana_config, prometheus_config, remote_write
from components.builders.grafana_config import Dashboard, checksum
from components.builders.pod_monitor import pod_monitor_spec
from components.builders.ray_cluster import ray_version_of
from components.builders.ray_head_env import (
    RECREATE,
    head_restart_command,
    ray_head_env,
)
from components.constants import (
    ALERTMANAGER_PORT,
    GRAFANA_DASHBOARD_FOLDER,
    GRAFANA_DASHBOARDS_DIR,
    GRAFANA_DATASOURCE_CREDENTIAL_FILE,
    PROMETHEUS_PORT,
    RAY_DASHBOARD_PORT,
)
from components.kubernetes import common as kc
from components.kubernetes.alertmanager import Alertmanager, AlertmanagerArgs
from components.kubernetes.grafana import Grafana, GrafanaArgs
from components.kubernetes.kuberay_operator import KubeRayOperator, KubeRayOperatorArgs
from components.kubernetes.prometheus import Prometheus, PrometheusArgs
from components.kubernetes.prometheus_operator import PrometheusOperatorArgs, PrometheusOperatorResources
from components.kubernetes.ray_cluster import RayCluster, RayClusterArgs
from components.kubernetes.ray_cluster_patch import RayClusterPatch, RayClusterPatchArgs
from components.kubernetes.ray_dashboard_service import (
    RayDashboardService,
    RayDashboardServiceArgs,
)
from components.kubernetes.ray_query_headers import RayQueryHeaders, RayQueryHeadersArgs
from stacks.dashboards import load_dashboards_for
from stacks.doctor import doctor_expectations
from stacks.preflight import ClusterAccess, check_patch_targets, ray_version_of_targets
from stacks.settings import KubernetesSettings


def port_forward(namespace: str, service: str, local: int, remote: int) -> str:
    return f"kubectl port-forward -n {namespace} svc/{service} {local}:{remote}"


GRAFANA = "grafana"  # component and Service name
PROMETHEUS = "prometheus"
ALERTMANAGER = "alertmanager"


def prometheus_clients(s: KubernetesSettings) -> list[dict]:
    """Who may query Prometheus: Grafana, and the Ray heads (their dashboard checks it server-side)."""
    heads = {"podSelector": {"matchLabels": {"ray.io/node-type": "head"}}}
    if s.watch_namespaces is None:
        ray = [{**heads, "namespaceSelector": {}}]
    else:
        ray = [{**heads, "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
               for namespace in s.watch_namespaces]
    return [{"podSelector": {"matchLabels": kc.selector_labels("grafana", GRAFANA)}}, *ray]


def alertmanager_url(s: KubernetesSettings) -> str | None:
    """Ours (a Service with a fixed name), the user's, or None: alerts only in Prometheus and Grafana."""
    if s.monitoring.alerting.deploys_alertmanager:
        return kc.service_url(ALERTMANAGER, s.namespace, ALERTMANAGER_PORT)
    return s.monitoring.alerting.external_url


@dataclass
class Monitoring:
    """What the Ray head is pointed at, and what it must wait for."""

    prometheus_url: pulumi.Input[str]
    grafana_url: pulumi.Input[str]
    ready: list[pulumi.Resource]  # the head starts after these are ready
    own: bool  # our Prometheus and Grafana (not the user's Prometheus Operator)
    admin_password: pulumi.Output[str] | None = None
    # RAY_PROMETHEUS_HEADERS (a Pulumi secret) when the heads query a store that wants credentials.
    ray_query_headers: pulumi.Output[str] | None = None


def build(settings: KubernetesSettings, access: ClusterAccess) -> None:
    s, m = settings, settings.monitoring
    objects = []
    if s.ray_cluster is None:
        # Read before anything is registered: a wrong target stops `pulumi preview` with nothing made.
        objects = check_patch_targets(s.targets, access)
    # Grafana serves the dashboards of the Ray the cluster runs, unless rayVersion says otherwise.
    if m.ray_version:
        version, source = m.ray_version, "rayVersion"
    elif s.ray_cluster is None:
        version, source = ray_version_of_targets(s.targets, objects), "the Ray version the cluster runs"
    else:
        version, source = ray_version_of(s.ray_cluster.image), "the Ray version of rayImage"
    served_version, dashboards = load_dashboards_for(version, source)

    namespaces = []
    if s.create_namespace:
        namespaces.append(_namespace("monitoring-namespace", s.namespace))
    if s.ray_cluster is not None and s.create_ray_namespace and not (
            s.create_namespace and s.ray_cluster_namespace == s.namespace):
        namespaces.append(_namespace("ray-namespace", s.ray_cluster_namespace))
    # Everything in them (Roles in the Ray namespace too) waits for the namespaces the stack creates.
    opts = pulumi.ResourceOptions(depends_on=namespaces) if namespaces else None
    operator = KubeRayOperator("kuberay", KubeRayOperatorArgs(s.kuberay_namespace)) if s.kuberay_namespace else None

    monitoring = (_prometheus_operator_mode(s, dashboards, opts) if s.prometheus_operator
                  else _own_monitoring(s, dashboards, opts))
    # The browser reaches Grafana through the port-forward printed below unless told otherwise:
    # that works on every minikube driver and on any cloud cluster.
    iframe_host = m.grafana_iframe_host or (
        "http://localhost:3000" if monitoring.own else s.prometheus_operator.grafana_url)
    headers = None
    if monitoring.ray_query_headers is not None:
        headers = RayQueryHeaders("ray-query-headers", RayQueryHeadersArgs(_ray_namespaces(s),
                                                                           monitoring.ray_query_headers),
                                  pulumi.ResourceOptions(depends_on=namespaces))
    head_env = ray_head_env(monitoring.grafana_url, monitoring.prometheus_url, m.datasource_name, iframe_host,
                            headers.secret_name if headers else None)
    head_restart = _ray_heads(s, head_env, monitoring.ready + (headers.secrets if headers else []), namespaces,
                              operator)
    if s.ray_dashboard_node_port is not None:
        RayDashboardService(
            "ray-dashboard",
            RayDashboardServiceArgs(s.ray_cluster_name, s.ray_cluster_namespace, s.ray_dashboard_node_port),
            opts,
        )
    _exports(s, monitoring, iframe_host, head_env, head_restart)
    pulumi.export("rayDashboardsVersion", served_version)


def _ray_namespaces(s: KubernetesSettings) -> tuple[str, ...]:
    """Where the Ray heads run: the created cluster's namespace, or every patched target's."""
    if s.ray_cluster is not None:
        return (s.ray_cluster_namespace,)
    return tuple(dict.fromkeys(t.namespace for t in s.targets))


def _own_monitoring(s: KubernetesSettings, dashboards: tuple[Dashboard, ...],
                    opts: pulumi.ResourceOptions | None) -> Monitoring:
    m, store = s.monitoring, s.monitoring.store
    if m.alerting.deploys_alertmanager:
        config = pulumi.Output.secret(alertmanager_config.render(m.alerting.routing))
        Alertmanager(ALERTMANAGER, AlertmanagerArgs(
            namespace=s.namespace,
            config=config,
            config_checksum=config.apply(checksum),
            clients=[{"podSelector": {"matchLabels": kc.selector_labels("prometheus", PROMETHEUS)}}],
        ), opts)
    query = store.query  # where Grafana reads: the store, or our Prometheus when None
    prometheus = Prometheus(
        PROMETHEUS,
        PrometheusArgs(
            namespace=s.namespace,
            prometheus_yml=prometheus_config.render(
                prometheus_config.kubernetes_config(
                    prometheus_config.ScrapeSettings(
                        m.scrape_interval, (alert_rules.DEPLOYED_PATH,), alertmanager_url(s),
                        tuple(remote_write.remote_write_block(store.targets, m.sizing.samples_per_second)),
                        store.agent),
                    s.watch_namespaces,
                )
            ),
            rule_files={} if store.agent else {alert_rules.FILE_NAME: alert_rules.render(m.alerts)},
            agent=store.agent,
            remote_write_secrets=store.write_credentials,
            clients=prometheus_clients(s),
            watch_namespaces=s.watch_namespaces,
            retention_time=m.retention_time,
            retention_size=m.retention_size,
            resources=s.prometheus_resources,
            storage=s.prometheus_storage,
        ),
        opts,
    )
    grafana = Grafana(
        GRAFANA,
        GrafanaArgs(
            namespace=s.namespace,
            grafana_ini=grafana_config.grafana_ini(sigv4=store.query_signs_sigv4),
            datasources_yaml=(grafana_config.datasource_provisioning(m.datasource_name, query.url, query.auth,
                                                                     GRAFANA_DATASOURCE_CREDENTIAL_FILE)
                              if query else grafana_config.datasource_provisioning(m.datasource_name, prometheus.url)),
            datasource_credential=query.secret if query else None,
            dashboard_providers_yaml=grafana_config.dashboard_provisioning(GRAFANA_DASHBOARDS_DIR),
            dashboards=dashboards,
            resources=s.grafana_resources,
            storage=s.grafana_storage,
            service_type=s.grafana_service_type,
            service_port=s.grafana_service_port,
            node_port=s.grafana_node_port,
        ),
        opts,
    )
    # In agent mode our Prometheus keeps nothing to query: the heads query the store, with its credentials.
    headers = store.ray_query_headers
    return Monitoring(store.ray_query.url if store.ray_query else prometheus.url, grafana.url,
                      [prometheus.deployment, grafana.deployment], own=True, admin_password=grafana.admin_password,
                      ray_query_headers=pulumi.Output.secret(headers) if headers is not None else None)


def _prometheus_operator_mode(s: KubernetesSettings, dashboards: tuple[Dashboard, ...],
                              opts: pulumi.ResourceOptions | None) -> Monitoring:
    """The user's Prometheus Operator scrapes and alerts; their Grafana shows the dashboards."""
    operator = s.prometheus_operator
    PrometheusOperatorResources("prometheus-operator", PrometheusOperatorArgs(
        namespace=s.namespace,
        pod_monitor=pod_monitor_spec(s.watch_namespaces, s.monitoring.scrape_interval),
        rules=alert_rules.rules(s.monitoring.alerts),
        selector_labels=operator.pod_monitor_labels,
        dashboards=dashboards,
        dashboard_labels=operator.dashboard_labels,
        folder=GRAFANA_DASHBOARD_FOLDER,
    ), opts)
    return Monitoring(operator.prometheus_url, operator.grafana_url, [], own=False)


def _ray_heads(s: KubernetesSettings, head_env: list[dict], ready: list, namespaces: list,
               operator: KubeRayOperator | None) -> str:
    """The created RayCluster, or a patch per target; returns how each head gets its environment."""
    if s.ray_cluster is not None:
        RayCluster(
            "ray-cluster",
            RayClusterArgs(s.ray_cluster_name, s.ray_cluster_namespace, s.ray_cluster, s.ray_head_container,
                           head_env),
            # After the operator (its CRD), so `pulumi destroy` deletes the cluster before the operator.
            pulumi.ResourceOptions(depends_on=[*namespaces, *ready, *([operator.release] if operator else [])]),
        )
        return "not needed: the RayCluster is created with the environment"
    for target in s.targets:
        RayClusterPatch(
            target.resource_name,
            RayClusterPatchArgs(target.name, target.namespace, target.head_container, head_env, s.head_restart,
                                target.kind),
            pulumi.ResourceOptions(depends_on=ready),
        )

    def restart(target) -> str:
        if target.kind == "RayService":
            return "the RayService rolls the change out as a new cluster by itself"
        if s.head_restart == RECREATE:
            return "automatic (RayCluster upgradeStrategy Recreate)"
        return head_restart_command(target.name, target.namespace)

    if len(s.targets) == 1:
        return restart(s.targets[0])
    return "; ".join(f"{t.kind} {t.namespace}/{t.name}: {restart(t)}" for t in s.targets)


def _exports(s: KubernetesSettings, monitoring: Monitoring, iframe_host: str, head_env: list[dict],
             head_restart: str) -> None:
    m = s.monitoring
    head_service = f"{s.ray_cluster_name}-head-svc"  # created by KubeRay
    pulumi.export("grafanaUrl", iframe_host)
    if monitoring.own:
        pulumi.export("grafanaPortForward", port_forward(s.namespace, GRAFANA, 3000, s.grafana_service_port))
        pulumi.export("grafanaAdminPassword", monitoring.admin_password)
        pulumi.export("prometheusUrl", f"http://localhost:{PROMETHEUS_PORT}")
        pulumi.export("prometheusPortForward",
                      port_forward(s.namespace, PROMETHEUS, PROMETHEUS_PORT, PROMETHEUS_PORT))
    pulumi.export("rayDashboardUrl", f"http://localhost:{RAY_DASHBOARD_PORT}")
    pulumi.export("rayDashboardPortForward",
                  port_forward(s.ray_cluster_namespace, head_service, RAY_DASHBOARD_PORT, RAY_DASHBOARD_PORT))
    pulumi.export("rayHeadRestart", head_restart)
    if m.store.agent:
        # Agent mode evaluates no rules: load these into the store's ruler (README).
        pulumi.export("alertRules", alert_rules.render(m.alerts))
    # RayJobs create a cluster per job: paste this into rayClusterSpec.headGroupSpec's head container.
    pulumi.export("rayJobHeadEnv", head_env)
    services = {"rayDashboard": {"namespace": s.ray_cluster_namespace, "service": head_service,
                                 "port": RAY_DASHBOARD_PORT}}
    if monitoring.own:
        services.update(prometheus={"namespace": s.namespace, "service": PROMETHEUS, "port": PROMETHEUS_PORT},
                        grafana={"namespace": s.namespace, "service": GRAFANA, "port": s.grafana_service_port})
    # What `python -m doctor --stack NAME` reaches (by port-forward) and expects.
    pulumi.export("doctor", {
        "platform": "kubernetes",
        "services": services,
        **doctor_expectations(m, iframe_host, s.prometheus_resources.memory_limit, node_exporter=False,
                              restart_command=head_restart_command(s.ray_cluster_name, s.ray_cluster_namespace)),
    })


def _namespace(name: str, namespace: str) -> k8s.core.v1.Namespace:
    return k8s.core.v1.Namespace(
        name, metadata={"name": namespace, "labels": kc.labels("monitoring", namespace, "namespace")})
