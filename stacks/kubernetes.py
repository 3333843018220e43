"""The minikube stack (any Kubernetes with KubeRay): KubeRay and a RayCluster when asked, our Prometheus
and Grafana or the user's Prometheus Operator, and the Ray heads' environment."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.builders import (
    alert_rules,
    alertmanager_config,
    grafana_ini,
    grafana_provisioning,
    prometheus_config,
    remote_write,
)
from components.builders.dashboard_catalogue import Dashboard
from components.builders.logs import loki_config, sidecar
from components.builders.logs.collector_config import CLUSTER_ENV
from components.builders.logs.head_patch import SHIPPER_LABELS
from components.builders.logs.loki_config import LokiSettings
from components.builders.pod_monitor import pod_monitor_spec
from components.builders.ray_cluster import ScaledWorkers
from components.builders.ray_head_env import (
    RECREATE,
    head_restart_command,
    ray_head_env,
    ray_node_env,
)
from components.constants import (
    ALERTMANAGER_PORT,
    GRAFANA_DASHBOARD_FOLDER,
    GRAFANA_DASHBOARDS_DIR,
    GRAFANA_DATASOURCE_CREDENTIAL_FILE,
    KUBERAY_POD_LABELS,
    PROMETHEUS_PORT,
    RAY_DASHBOARD_PORT,
)
from components.kubernetes import common as kc
from components.kubernetes.alertmanager import Alertmanager, AlertmanagerArgs
from components.kubernetes.common import Resources
from components.kubernetes.grafana import Grafana, GrafanaArgs
from components.kubernetes.kuberay_operator import KubeRayOperator, KubeRayOperatorArgs
from components.kubernetes.loki import Loki, LokiArgs
from components.kubernetes.namespace import restricted_namespace
from components.kubernetes.prometheus import Prometheus, PrometheusArgs
from components.kubernetes.prometheus_operator import PrometheusOperatorArgs, PrometheusOperatorResources
from components.kubernetes.ray_cluster import RayCluster, RayClusterArgs
from components.kubernetes.ray_cluster_patch import HeadLogs, RayClusterPatch, RayClusterPatchArgs
from components.kubernetes.ray_dashboard_service import (
    RayDashboardService,
    RayDashboardServiceArgs,
)
from components.kubernetes.ray_query_headers import RayQueryHeaders, RayQueryHeadersArgs
from components.versions import RAY_ARM64_IMAGE
from stacks.dashboards import ServedDashboards, image_ray_version, load_dashboards_for
from stacks.doctor import doctor_expectations
from stacks.kuberay_crds import check_kuberay_crds
from stacks.kubernetes_claims import fit_claims
from stacks.notices import (
    warn_if_grafana_is_published,
    warn_if_namespace_is_unrestricted,
    warn_if_viewers_query_a_shared_store,
)
from stacks.preflight import (
    ARCH_LABEL,
    RECREATE_HASH,
    ClusterAccess,
    check_cluster_answers,
    check_node_port_is_on_minikube,
    check_patch_targets,
    heads_without_recreate_hash,
    namespace_labels,
    node_architectures,
    node_labels,
    ray_version_of_targets,
    scaled_workers,
)
from stacks.settings import KubernetesSettings
from stacks.settings.existing_clusters import PatchTarget, PrometheusOperatorSettings
from stacks.settings.kubernetes import CreatedCluster, OwnMonitoring, PatchedClusters


def port_forward(namespace: str, service: str, local: int, remote: int) -> str:
    return f"kubectl port-forward -n {namespace} svc/{service} {local}:{remote}"


GRAFANA = "grafana"  # component and Service name
GRAFANA_LOCAL_PORT = 3000  # where the port-forward the outputs print serves Grafana on the user's machine
PROMETHEUS = "prometheus"
ALERTMANAGER = "alertmanager"
LOKI = "loki"
# One Loki for one cluster's Ray logs (docs/logs.md, what it costs): the same cap as on the EC2 head.
LOKI_RESOURCES = Resources(cpu_request="100m", cpu_limit="1", memory_request="256Mi", memory_limit="1Gi")


def prometheus_clients(s: KubernetesSettings) -> list[dict[str, Any]]:
    """Who may query Prometheus: Grafana, and the Ray heads (their dashboard checks it server-side)."""
    heads = {"podSelector": {"matchLabels": {"ray.io/node-type": "head", **KUBERAY_POD_LABELS}}}
    if s.watch_namespaces is None:
        ray = [{**heads, "namespaceSelector": {}}]
    else:
        ray = [{**heads, "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
               for namespace in s.watch_namespaces]
    return [{"podSelector": {"matchLabels": kc.selector_labels("grafana", GRAFANA)}}, *ray]


def loki_clients(s: KubernetesSettings) -> list[dict[str, Any]]:
    """Who may write and read Loki: Grafana, and the Ray pods with a collector: the created RayCluster's, or
    the patched heads (labelled by the patch) in the patched namespaces."""
    grafana = {"podSelector": {"matchLabels": kc.selector_labels("grafana", GRAFANA)}}
    if isinstance(s.ray, CreatedCluster):
        return [grafana, {"podSelector": {"matchLabels": {"ray.io/cluster": s.ray.name, **KUBERAY_POD_LABELS}},
                          "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": s.ray.namespace}}}]
    heads = {"ray.io/node-type": "head", **KUBERAY_POD_LABELS, **SHIPPER_LABELS}
    return [grafana, *({"podSelector": {"matchLabels": heads},
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
                       for namespace in s.ray_namespaces)]


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
    admin_password: pulumi.Output[str] | None = None
    # RAY_PROMETHEUS_HEADERS (a Pulumi secret) when the heads query a store that wants credentials.
    ray_query_headers: pulumi.Output[str] | None = None
    logs_url: str | None = None  # Loki's OTLP endpoint, where the Ray pods' collectors send


def build(settings: KubernetesSettings, access: ClusterAccess) -> None:
    s, objects, scaled = _read_cluster(settings, access)
    m = s.monitoring
    # Our Grafana lets anonymous viewers in; in operator mode the user's Grafana is the user's to set.
    warn_if_viewers_query_a_shared_store(m, anonymous_viewers=isinstance(s.backend, OwnMonitoring))
    if isinstance(s.backend, OwnMonitoring):
        warn_if_grafana_is_published(s.backend.grafana_service)
    # Grafana serves the dashboards of the Ray the cluster runs, unless rayVersion says otherwise.
    version: str | None
    if m.ray_version:
        version, source = m.ray_version, "rayVersion"
    elif isinstance(s.ray, PatchedClusters):
        version, source = ray_version_of_targets(s.ray.targets, objects), "the Ray version the cluster runs"
    else:
        version, source = image_ray_version(s.ray.shape.image), "the Ray version of rayImage"
    served = load_dashboards_for(version, source, s.logs.enabled, precomputed=not m.store.agent)

    created = _created_namespaces(s, access)
    namespaces = list(created.values())
    # Everything in them (Roles in the Ray namespace too) waits for the namespaces the stack creates.
    opts = pulumi.ResourceOptions(depends_on=namespaces) if namespaces else None
    operator = None
    if s.kuberay_namespace:
        own = created.get(s.kuberay_namespace)
        operator = KubeRayOperator(
            "kuberay", KubeRayOperatorArgs(s.kuberay_namespace, s.kuberay_chart_repository, create_namespace=not own),
            pulumi.ResourceOptions(depends_on=[own]) if own else None)

    if isinstance(s.backend, PrometheusOperatorSettings):
        monitoring = _prometheus_operator_mode(s, s.backend, served, opts)
    else:
        monitoring = _own_monitoring(s, s.backend, served, opts)
    # The browser reaches Grafana through the port-forward printed below unless told otherwise:
    # that works on every minikube driver and on any cloud cluster.
    iframe_host = m.grafana_iframe_host or _default_iframe_host(s)
    headers = None
    if monitoring.ray_query_headers is not None:
        headers = RayQueryHeaders("ray-query-headers", RayQueryHeadersArgs(s.ray_namespaces,
                                                                           monitoring.ray_query_headers),
                                  pulumi.ResourceOptions(depends_on=namespaces))
    head_env = ray_head_env(monitoring.grafana_url, monitoring.prometheus_url, m.datasource_name, iframe_host,
                            headers.secret_name if headers else None, m.cardinality_level)
    head_restart = _ray_heads(s, head_env, monitoring, (headers.secrets if headers else []), namespaces,
                              operator, scaled, access, objects)
    if s.ray_dashboard_node_port is not None:
        RayDashboardService(
            "ray-dashboard",
            RayDashboardServiceArgs(s.dashboard.name, s.dashboard.namespace, s.ray_dashboard_node_port),
            opts,
        )
    _exports(s, monitoring, iframe_host, head_env, head_restart, served.version)


def _own_monitoring(s: KubernetesSettings, own: OwnMonitoring, served: ServedDashboards,
                    opts: pulumi.ResourceOptions | None) -> Monitoring:
    m, store = s.monitoring, s.monitoring.store
    if m.alerting.deploys_alertmanager:
        config = pulumi.Output.secret(alertmanager_config.render(m.alerting.routing))
        Alertmanager(ALERTMANAGER, AlertmanagerArgs(
            namespace=s.namespace,
            config=config,
            clients=[{"podSelector": {"matchLabels": kc.selector_labels("prometheus", PROMETHEUS)}}],
        ), opts)
    prometheus = _prometheus(s, own, served.rules, opts)
    loki = None
    if s.logs.deploys_loki:
        loki = Loki(LOKI, LokiArgs(namespace=s.namespace, loki_yaml=loki_config.render(LokiSettings(s.logs.retention)),
                                   resources=LOKI_RESOURCES, storage=own.loki_storage, clients=loki_clients(s)), opts)
    grafana = _grafana(s, own, served.dashboards, prometheus.url, loki.url if loki else None, opts)
    # In agent mode our Prometheus keeps nothing to query: the heads query the store, with its credentials.
    headers = store.ray_query_headers
    return Monitoring(store.ray_query.url if store.ray_query else prometheus.url, grafana.url,
                      [prometheus.deployment, grafana.deployment], admin_password=grafana.admin_password,
                      ray_query_headers=pulumi.Output.secret(headers) if headers is not None else None,
                      logs_url=s.logs.otlp_url(loki.url if loki else None) if s.logs.enabled else None)


def _prometheus(s: KubernetesSettings, own: OwnMonitoring, dashboard_rules: dict[str, Any] | None,
                opts: pulumi.ResourceOptions | None) -> Prometheus:
    m, store = s.monitoring, s.monitoring.store
    scrape = prometheus_config.ScrapeSettings(
        m.scrape_interval, (alert_rules.DEPLOYED_PATH,), alertmanager_url(s),
        tuple(remote_write.remote_write_block(store.targets, m.sizing.samples_per_second)), store.agent)
    return Prometheus(PROMETHEUS, PrometheusArgs(
        namespace=s.namespace,
        prometheus_yml=prometheus_config.render(prometheus_config.kubernetes_config(scrape, s.watch_namespaces)),
        rule_files={} if store.agent else {alert_rules.FILE_NAME: alert_rules.render(m.alerts, dashboard_rules)},
        agent=store.agent,
        remote_write_secrets=store.write_credentials,
        clients=prometheus_clients(s),
        watch_namespaces=s.watch_namespaces,
        retention_time=m.retention_time,
        retention_size=m.retention_size,
        resources=own.prometheus_resources,
        storage=own.prometheus_storage,
    ), opts)


def _grafana(s: KubernetesSettings, own: OwnMonitoring, dashboards: tuple[Dashboard, ...],
             prometheus_url: str, loki_url: str | None, opts: pulumi.ResourceOptions | None) -> Grafana:
    m, query = s.monitoring, s.monitoring.store.query  # Grafana reads the store, or our Prometheus when None
    logs = s.logs.query  # the user's Loki (logsUrl), or ours at loki_url
    source = s.logs.grafana_source(loki_url) if s.logs.enabled else None
    datasources = (grafana_provisioning.datasource_provisioning(m.datasource_name, query.url, query.auth,
                                                                GRAFANA_DATASOURCE_CREDENTIAL_FILE, logs=source)
                   if query else grafana_provisioning.datasource_provisioning(m.datasource_name, prometheus_url,
                                                                              logs=source))
    return Grafana(GRAFANA, GrafanaArgs(
        namespace=s.namespace,
        grafana_ini=grafana_ini.grafana_ini(sigv4=m.store.query_signs_sigv4),
        datasources_yaml=datasources,
        datasource_credential=query.secret if query else None,
        logs_credential=logs.secret if logs else None,
        dashboard_providers_yaml=grafana_provisioning.dashboard_provisioning(GRAFANA_DASHBOARDS_DIR),
        dashboards=dashboards,
        resources=own.grafana_resources,
        storage=own.grafana_storage,
        service_type=own.grafana_service.type,
        service_port=own.grafana_service.port,
        node_port=own.grafana_service.node_port,
        source_ranges=own.grafana_service.source_ranges,
        given=m.given,
    ), opts)


def _prometheus_operator_mode(s: KubernetesSettings, operator: PrometheusOperatorSettings,
                              served: ServedDashboards, opts: pulumi.ResourceOptions | None) -> Monitoring:
    """The user's Prometheus Operator scrapes and alerts; their Grafana shows the dashboards."""
    PrometheusOperatorResources("prometheus-operator", PrometheusOperatorArgs(
        namespace=s.namespace,
        pod_monitor=pod_monitor_spec(s.watch_namespaces, s.monitoring.scrape_interval),
        rules=alert_rules.rules(s.monitoring.alerts, served.rules),
        selector_labels=operator.pod_monitor_labels,
        dashboards=served.dashboards,
        dashboard_labels=operator.dashboard_labels,
        folder=GRAFANA_DASHBOARD_FOLDER,
    ), opts)
    return Monitoring(operator.prometheus_url, operator.grafana_url, [])


def _ray_heads(s: KubernetesSettings, head_env: list[dict[str, Any]], monitoring: Monitoring,
               secrets: list[pulumi.Resource], namespaces: list[pulumi.Resource], operator: KubeRayOperator | None,
               scaled: ScaledWorkers | None, access: ClusterAccess, objects: list[dict[str, Any]]) -> str:
    """The created RayCluster, or a patch per target (`objects`: each as the cluster has it); returns how each
    head gets its environment."""
    ready = monitoring.ready + secrets
    if isinstance(s.ray, CreatedCluster):
        authorization = s.logs.store_authorization
        collector = (sidecar.collector_yaml(monitoring.logs_url, s.ray.name, authorization is not None)
                     if monitoring.logs_url else None)
        cluster = RayCluster(
            "ray-cluster",
            RayClusterArgs(s.ray.name, s.ray.namespace, s.ray.shape, s.ray.head_container, head_env,
                           worker_env=ray_node_env(s.monitoring.cardinality_level), token_auth=s.ray.token_auth,
                           token=s.monitoring.given.ray_auth_token, scaled=scaled,
                           log_collector_yaml=collector,
                           log_store_authorization=authorization),
            # After the operator (its CRD), so `pulumi destroy` deletes the cluster before the operator.
            pulumi.ResourceOptions(depends_on=[*namespaces, *ready, *([operator.release] if operator else [])]),
        )
        if cluster.token is not None:
            # The Ray Dashboard asks for it; `ray job submit` reads it from RAY_AUTH_TOKEN; the doctor sends it.
            pulumi.export("rayAuthToken", cluster.token)
        return ("automatic: the RayCluster is created with the environment, and KubeRay recreates its pods when "
                "a later pulumi up changes it (upgradeStrategy Recreate)")
    patched = s.ray
    for target, found in zip(patched.targets, objects, strict=True):
        RayClusterPatch(
            target.resource_name,
            RayClusterPatchArgs(target.name, target.namespace, target.head_container, head_env,
                                patched.head_restart, target.kind, _head_logs(s, monitoring, found)),
            pulumi.ResourceOptions(depends_on=ready),
        )

    stale = heads_without_recreate_hash(access, patched.targets) if patched.head_restart == RECREATE else []
    for target in stale:
        pulumi.log.warn(f"rayClusterName: KubeRay will not restart the running head of {target.namespace}/"
                        f"{target.name} (it was created without the {RECREATE_HASH} annotation KubeRay recreates "
                        f"by), so it keeps its old environment until you run: "
                        f"{head_restart_command(target.name, target.namespace)}")

    def restart(target: PatchTarget) -> str:
        if target.kind == "RayService":
            return "the RayService rolls the change out as a new cluster by itself"
        if patched.head_restart == RECREATE and target not in stale:
            return "automatic (RayCluster upgradeStrategy Recreate)"
        return head_restart_command(target.name, target.namespace)

    if len(patched.targets) == 1:
        return restart(patched.targets[0])
    return "; ".join(f"{t.kind} {t.namespace}/{t.name}: {restart(t)}" for t in patched.targets)


def _head_logs(s: KubernetesSettings, monitoring: Monitoring, found: dict[str, Any]) -> HeadLogs | None:
    """A patched head's collector, when logs are on: one configuration for every cluster, each pod naming its
    own from KubeRay's label (a RayService's clusters are named as KubeRay makes them)."""
    if not monitoring.logs_url:
        return None
    authorization = s.logs.store_authorization
    spec = found["spec"].get("rayClusterConfig", found["spec"])
    return HeadLogs(sidecar.collector_yaml(monitoring.logs_url, f"${{env:{CLUSTER_ENV}}}", authorization is not None),
                    head_spec=spec["headGroupSpec"]["template"].get("spec", {}), authorization=authorization)


def _fit_to_nodes(s: KubernetesSettings, nodes: list[dict[str, str]] | None) -> KubernetesSettings:
    """The default Ray image for the nodes the cluster has: rayproject/ray:<version> runs on amd64 only.
    Every node arm64: the -aarch64 image. Both kinds: the amd64 image, kept off the arm64 nodes."""
    if not isinstance(s.ray, CreatedCluster) or s.ray.image_configured:
        return s
    architectures = node_architectures(nodes) or {"amd64"}
    if architectures == {"arm64"}:
        shape = dataclasses.replace(s.ray.shape, image=RAY_ARM64_IMAGE)
    elif "arm64" in architectures:
        shape = dataclasses.replace(s.ray.shape, node_selector={ARCH_LABEL: "amd64"})
    else:
        return s
    return dataclasses.replace(s, ray=dataclasses.replace(s.ray, shape=shape))


def _default_iframe_host(s: KubernetesSettings) -> str:
    """Through the port-forward the outputs print, when there is one (our Grafana, or the user's at an
    in-cluster Service); otherwise the user's Grafana URL, which the browser is taken to reach."""
    if _grafana_port_forward(s) is None and isinstance(s.backend, PrometheusOperatorSettings):
        return s.backend.grafana_url
    return f"http://localhost:{GRAFANA_LOCAL_PORT}"


def _grafana_port_forward(s: KubernetesSettings) -> str | None:
    if isinstance(s.backend, OwnMonitoring):
        return port_forward(s.namespace, GRAFANA, GRAFANA_LOCAL_PORT, s.backend.grafana_service.port)
    if s.backend.grafana_service is not None:
        namespace, service, port = s.backend.grafana_service
        return port_forward(namespace, service, GRAFANA_LOCAL_PORT, port)
    return None


def _exports(s: KubernetesSettings, monitoring: Monitoring, iframe_host: str, head_env: list[dict[str, Any]],
             head_restart: str, served_version: str) -> None:
    m = s.monitoring
    own = s.backend if isinstance(s.backend, OwnMonitoring) else None
    # The created cluster's, or the first patched target's (docs/existing-clusters.md).
    dashboard = s.dashboard
    pulumi.export("grafanaUrl", iframe_host)
    if (forward := _grafana_port_forward(s)) is not None:
        pulumi.export("grafanaPortForward", forward)
    if own:
        pulumi.export("grafanaAdminPassword", monitoring.admin_password)
        pulumi.export("prometheusUrl", f"http://localhost:{PROMETHEUS_PORT}")
        pulumi.export("prometheusPortForward",
                      port_forward(s.namespace, PROMETHEUS, PROMETHEUS_PORT, PROMETHEUS_PORT))
    pulumi.export("rayDashboardUrl", f"http://localhost:{RAY_DASHBOARD_PORT}")
    pulumi.export("rayDashboardPortForward",
                  port_forward(dashboard.namespace, dashboard.head_service, RAY_DASHBOARD_PORT, RAY_DASHBOARD_PORT))
    pulumi.export("rayHeadRestart", head_restart)
    pulumi.export("rayDashboardsVersion", served_version)
    if m.store.agent:
        # Agent mode evaluates no rules: load these into the store's ruler (docs/remote-storage.md).
        pulumi.export("alertRules", alert_rules.render(m.alerts))
    # RayJobs create a cluster per job: paste this into rayClusterSpec.headGroupSpec's head container.
    pulumi.export("rayJobHeadEnv", head_env)
    services = {"rayDashboard": {"namespace": dashboard.namespace, "service": dashboard.head_service,
                                 "port": RAY_DASHBOARD_PORT}}
    if own:
        services.update(prometheus={"namespace": s.namespace, "service": PROMETHEUS, "port": PROMETHEUS_PORT},
                        grafana={"namespace": s.namespace, "service": GRAFANA, "port": own.grafana_service.port})
    # What `python -m doctor --stack NAME` reaches (by port-forward) and expects.
    # A secret: the CLI shows it as one line in every preview and up; the doctor reads it with --show-secrets.
    pulumi.export("doctor", pulumi.Output.secret({
        "platform": "kubernetes",
        "services": services,
        **doctor_expectations(m, iframe_host,
                              own.prometheus_resources.memory_limit if own else m.sizing.memory_limit,
                              node_exporter=False,
                              restart_command=head_restart_command(dashboard.name, dashboard.namespace),
                              dashboards_version=served_version, logs=s.logs.enabled,
                              logs_from=_shipping_heads(s)),
    }))


def _shipping_heads(s: KubernetesSettings) -> str:
    """The patched clusters' heads as label matchers ("" where every Ray pod ships): KubeRay names a RayService's
    clusters after it with a suffix. Names are DNS subdomains: no regex character but `.`, which matches itself."""
    if not isinstance(s.ray, PatchedClusters):
        return ""
    names = sorted(t.name + ("-.+" if t.kind == "RayService" else "") for t in s.ray.targets)
    return f'ray_node_type="head",ray_io_cluster=~"{"|".join(names)}"'


def _read_cluster(settings: KubernetesSettings, access: ClusterAccess
                  ) -> tuple[KubernetesSettings, list[dict[str, Any]], ScaledWorkers | None]:
    """Everything read from the cluster before anything is registered: a wrong input stops `pulumi preview`
    with nothing made. Returns the settings fitted to the cluster as it is, the patched objects, and the
    created RayCluster's workers as Ray's autoscaler left them."""
    check_cluster_answers(access)  # an unreachable cluster is said as such, before any setting is blamed
    objects, scaled = [], None
    if isinstance(settings.ray, PatchedClusters):
        objects = check_patch_targets(settings.ray.targets, access)
    else:
        scaled = scaled_workers(access, settings.ray.name, settings.ray.namespace)
    check_kuberay_crds(settings, access)  # a field the installed CRD lacks would be dropped without an error
    nodes = node_labels(access)
    if settings.ray_dashboard_node_port is not None:
        check_node_port_is_on_minikube(nodes, settings.ray_dashboard_node_port)
    return fit_claims(_fit_to_nodes(settings, nodes), access), objects, scaled


def _created_namespaces(s: KubernetesSettings, access: ClusterAccess) -> dict[str, k8s.core.v1.Namespace]:
    """The namespaces the stack creates, by name, each under Pod Security's restricted profile."""
    wanted = {}
    if s.create_namespace:
        wanted[s.namespace] = "monitoring-namespace"
    if isinstance(s.ray, CreatedCluster) and s.ray.create_namespace:
        wanted.setdefault(s.ray.namespace, "ray-namespace")
    if s.kuberay_namespace and s.kuberay_namespace not in wanted and _stack_may_create(access, s.kuberay_namespace):
        wanted[s.kuberay_namespace] = "kuberay-namespace"
    return {name: restricted_namespace(resource, name) for name, resource in wanted.items()}


def _stack_may_create(access: ClusterAccess, name: str) -> bool:
    """KubeRay's namespace is the stack's to create (and label) when it is missing or the stack made it; one
    made otherwise (by Helm's --create-namespace, or by the user) is left as it is."""
    labels = namespace_labels(access, name)
    if labels is None or kc.made_by_stack(labels):
        return True
    warn_if_namespace_is_unrestricted("kuberayNamespace", name, labels)
    return False
