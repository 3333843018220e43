"""Settings of the Kubernetes platform (minikube, EKS, GKE), by concern: where things run, how the Ray
heads get their environment (a RayCluster the stack creates, or patches of clusters users run), and
who monitors (our Prometheus and Grafana, or the user's Prometheus Operator)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal, cast

from components.builders.logs.sizing import loki_disk_gib
from components.builders.ray_cluster import RayClusterShape, RayNodeSize
from components.builders.sizing import bytes_of
from components.kubernetes.common import Resources, Storage
from components.versions import RAY_IMAGE
from stacks.settings.existing_clusters import (
    PatchTarget,
    PrometheusOperatorSettings,
    read_prometheus_operator,
    read_targets,
)
from stacks.settings.formats import DNS_LABEL, NAME_WHY, millicores
from stacks.settings.logs import LogsSettings, read_logs
from stacks.settings.networks import covers_the_internet
from stacks.settings.reader import Reader
from stacks.settings.shared import MonitoringSettings, read_monitoring

ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]
HeadRestart = Literal["upgradeStrategy", "none"]


@dataclass(frozen=True)
class GrafanaService:
    type: ServiceType
    port: int
    node_port: int | None  # None: Kubernetes chooses (NodePort/LoadBalancer)
    source_ranges: tuple[str, ...] = ()  # LoadBalancer: who it admits (required then)


@dataclass(frozen=True)
class OwnMonitoring:
    """Our Prometheus and Grafana (and Alertmanager, with receivers)."""

    prometheus_resources: Resources
    prometheus_storage: Storage
    grafana_resources: Resources
    grafana_storage: Storage
    grafana_service: GrafanaService
    loki_storage: Storage  # used when logs are on


@dataclass(frozen=True)
class CreatedCluster:
    """The stack creates the RayCluster, with the environment in its head from the start."""

    name: str
    namespace: str
    head_container: str
    shape: RayClusterShape
    create_namespace: bool
    image_configured: bool  # rayImage set: the nodes' architecture does not choose the image
    token_auth: bool  # rayTokenAuth: Ray's token authentication, with a generated token
    mode: Literal["create"] = "create"


@dataclass(frozen=True)
class PatchedClusters:
    """Clusters users already run: each head gets the environment by a server-side-apply patch."""

    targets: tuple[PatchTarget, ...]
    head_restart: HeadRestart
    mode: Literal["patch"] = "patch"


@dataclass(frozen=True)
class ClusterRef:
    """The cluster whose Ray Dashboard the outputs and the doctor reach: the created one, or the first
    patched target (its head Service is `<name>-head-svc` for a RayCluster and a RayService alike)."""

    name: str
    namespace: str

    @property
    def head_service(self) -> str:
        return f"{self.name}-head-svc"


@dataclass(frozen=True)
class KubernetesSettings:
    monitoring: MonitoringSettings
    namespace: str  # of Prometheus, Grafana and Alertmanager (or the PodMonitor and rules)
    create_namespace: bool
    watch_namespaces: tuple[str, ...] | None  # None: every namespace (cluster-wide RBAC)
    kuberay_namespace: str | None  # None: KubeRay is already installed
    kuberay_chart_repository: str
    ray: CreatedCluster | PatchedClusters
    backend: OwnMonitoring | PrometheusOperatorSettings
    ray_dashboard_node_port: int | None  # None: no Service for the Ray Dashboard
    logs: LogsSettings

    @property
    def dashboard(self) -> ClusterRef:
        if isinstance(self.ray, CreatedCluster):
            return ClusterRef(self.ray.name, self.ray.namespace)
        first = self.ray.targets[0]
        return ClusterRef(first.name, first.namespace)

    @property
    def ray_namespaces(self) -> tuple[str, ...]:
        """Where the Ray heads run: the created cluster's namespace, or every patched target's."""
        if isinstance(self.ray, CreatedCluster):
            return (self.ray.namespace,)
        return tuple(dict.fromkeys(t.namespace for t in self.ray.targets))


# Keys that shape the created RayCluster: they mean nothing in patch mode.
RAY_CLUSTER_KEYS = ("rayImage", "rayHeadCpu", "rayHeadMemory", "rayWorkerCpu", "rayWorkerMemory",
                    "rayWorkerMinReplicas", "rayWorkerMaxReplicas", "createRayNamespace")
# Keys of our own Prometheus and Grafana's remote storage: the user's Prometheus Operator has its own.
STORE_KEYS = ("remoteWrite", "prometheusAgent", "grafanaQueryUrl", "grafanaQueryAuth")


def read_kubernetes(reader: Reader) -> KubernetesSettings:
    namespace = reader.text("namespace")
    ray_namespace = reader.text("rayClusterNamespace")
    cluster_name = reader.text("rayClusterName")
    head_container = reader.text("rayHeadContainer")
    ray = _ray_heads(reader, cluster_name, ray_namespace, head_container)
    operator = read_prometheus_operator(reader)
    monitoring = read_monitoring(reader)
    own = _own_monitoring(reader, monitoring, ray)
    if operator:
        _refuse_own_monitoring_keys(reader, monitoring)
    # A patched cluster's pods are its team's: the collector joins their heads when asked (docs/logs.md).
    logs = read_logs(reader, _logs_unavailable(operator is not None), default=isinstance(ray, CreatedCluster))
    install_kuberay = reader.flag("installKubeRay")
    kuberay_namespace = reader.text("kuberayNamespace")
    return KubernetesSettings(
        monitoring=monitoring,
        namespace=namespace,
        create_namespace=reader.flag("createNamespace"),
        watch_namespaces=_watched(reader, ray),
        kuberay_namespace=kuberay_namespace if install_kuberay else None,
        kuberay_chart_repository=reader.text("kuberayChartRepository"),
        ray=ray,
        backend=operator or own,
        ray_dashboard_node_port=reader.optional_number("rayDashboardNodePort"),
        logs=logs,
    )


def _logs_unavailable(operator: bool) -> str | None:
    """Why this stack ships no logs, or None: Loki's datasource is provisioned in our Grafana."""
    if operator:
        return "with prometheusOperator your Grafana shows the dashboards, and the stack deploys no Loki for it"
    return None


def _ray_heads(reader: Reader, name: str, namespace: str, head_container: str) -> CreatedCluster | PatchedClusters:
    create = reader.flag("createRayCluster")
    create_namespace = reader.flag("createRayNamespace")
    shape = _ray_cluster_shape(reader)
    targets = read_targets(reader, name, namespace, head_container)
    head_restart = cast(HeadRestart, reader.text("headRestart"))
    # On a cluster the stack creates; a patched cluster is the user's to configure (docs/existing-clusters.md).
    token_auth = reader.flag("rayTokenAuth")
    if create:
        if reader.value("rayClusters") is not None:
            reader.problem("rayClusters", "<list>", "lists clusters to patch, and createRayCluster is true",
                           "pulumi config set createRayCluster false, or pulumi config rm rayClusters")
        return CreatedCluster(name, namespace, head_container, shape, create_namespace,
                              image_configured=reader.value("rayImage") is not None, token_auth=token_auth)
    if reader.value("rayClusters") is not None:
        for key in ("rayClusterName", "rayClusterNamespace"):
            value = reader.value(key)
            if value is not None and not reader.is_default(key, value):
                reader.problem(key, value, "names the one cluster to patch, and rayClusters lists them instead",
                               f"pulumi config rm {key}; name the cluster in rayClusters")
    for key in RAY_CLUSTER_KEYS:
        value = reader.value(key)
        if value is not None and not reader.is_default(key, value):
            reader.problem(key, value, "shapes the RayCluster the stack creates, and createRayCluster is false",
                           f"pulumi config set createRayCluster true, or pulumi config rm {key}")
    return PatchedClusters(targets, head_restart)


def _watched(reader: Reader, ray: CreatedCluster | PatchedClusters) -> tuple[str, ...] | None:
    watch_all = reader.flag("watchAllNamespaces")
    watched = reader.strings("watchNamespaces")
    for bad in [n for n in watched or [] if not DNS_LABEL.match(n)]:
        reader.problem("watchNamespaces", bad, NAME_WHY, "list namespace names, e.g. [ray-system]")
    if watch_all and watched:
        reader.problem("watchNamespaces", watched, "cannot be combined with watchAllNamespaces: true",
                       "remove one of the two keys")
    if watch_all:
        return None
    # Where the Ray heads run is always watched: they show the charts. With rayClusters, the
    # single-cluster keys (rayClusterNamespace) play no part.
    heads = [ray.namespace] if isinstance(ray, CreatedCluster) else [t.namespace for t in ray.targets]
    return tuple(dict.fromkeys([*heads, *(watched or [])]))


def _ray_cluster_shape(reader: Reader) -> RayClusterShape:
    """Fits `minikube start --cpus 4 --memory 8g` beside Prometheus, Grafana and KubeRay (docs)."""
    minimum = reader.number("rayWorkerMinReplicas")
    maximum = reader.number("rayWorkerMaxReplicas")
    if minimum > maximum:
        reader.problem("rayWorkerMinReplicas", minimum, f"exceeds rayWorkerMaxReplicas ({maximum})",
                       "lower rayWorkerMinReplicas or raise rayWorkerMaxReplicas")
    return RayClusterShape(
        # Unset means the pinned image (components/versions.py): no second copy of the pin in Pulumi.yaml.
        image=reader.optional_text("rayImage") or RAY_IMAGE,
        head=RayNodeSize(reader.text("rayHeadCpu"), reader.text("rayHeadMemory")),
        worker=RayNodeSize(reader.text("rayWorkerCpu"), reader.text("rayWorkerMemory")),
        worker_min_replicas=minimum,
        worker_max_replicas=maximum,
    )


def _own_monitoring(reader: Reader, monitoring: MonitoringSettings,
                    ray: CreatedCluster | PatchedClusters) -> OwnMonitoring:
    sizing = monitoring.sizing
    prometheus_storage = _storage(reader, "prometheus", sizing.volume_size)
    if bytes_of(monitoring.retention_size) > 0.95 * bytes_of(prometheus_storage.size):
        reader.problem("retentionSize", monitoring.retention_size,
                       f"does not fit prometheusStorageSize ({prometheus_storage.size}) with 5% to spare",
                       "raise prometheusStorageSize or lower retentionSize (or unset both: they are sized "
                       "from rayNodes)")
    service_type = cast(ServiceType, reader.text("grafanaServiceType"))
    node_port = reader.optional_number("grafanaNodePort")
    if reader.from_preset("grafanaNodePort") and service_type == "ClusterIP":
        node_port = None  # the preset's port goes with the preset's NodePort, which the stack changed
    if node_port is not None and service_type == "ClusterIP":
        reader.problem("grafanaNodePort", node_port, "needs grafanaServiceType NodePort or LoadBalancer",
                       "pulumi config set grafanaServiceType NodePort")
    return OwnMonitoring(
        prometheus_resources=_resources(reader, "prometheus", Resources(
            sizing.cpu_request, sizing.cpu_limit, sizing.memory_request, sizing.memory_limit)),
        prometheus_storage=prometheus_storage,
        grafana_resources=_resources(reader, "grafana"),
        grafana_storage=_storage(reader, "grafana"),
        grafana_service=GrafanaService(service_type, reader.number("grafanaServicePort"), node_port,
                                       _source_ranges(reader, service_type)),
        loki_storage=_storage(reader, "loki", _loki_size(reader, ray)),
    )


def _loki_size(reader: Reader, ray: CreatedCluster | PatchedClusters) -> str:
    """Loki's plan (components/builders/logs/sizing.py) for the nodes that ship: the created cluster at its most
    nodes, or the patched heads."""
    nodes = ray.shape.worker_max_replicas + 1 if isinstance(ray, CreatedCluster) else len(ray.targets)
    return f"{loki_disk_gib(nodes, reader.text('logsRetention'))}Gi"


def _source_ranges(reader: Reader, service_type: str) -> tuple[str, ...]:
    """A load balancer publishes Grafana beyond the cluster: only to the networks the user names."""
    key = "grafanaLoadBalancerSourceRanges"
    ranges = reader.strings(key) or []
    networks = []
    for cidr in ranges:
        try:
            networks.append(ipaddress.ip_network(cidr, strict=True))
        except ValueError:
            reader.problem(key, cidr, "is not a CIDR block", f"pulumi config set --path '{key}[0]' 203.0.113.0/24")
    if service_type == "LoadBalancer" and not ranges:
        reader.problem("grafanaServiceType", service_type, "publishes Grafana (anonymous viewers, the admin login, "
                       "plain HTTP) to every network the load balancer reaches",
                       f"pulumi config set --path '{key}[0]' 203.0.113.0/24 (your networks), or keep ClusterIP and "
                       "use the port-forward")
    elif networks and covers_the_internet(networks):
        reader.problem(key, ranges, "together cover every public address",
                       "list the networks that should reach Grafana")
    return tuple(str(n) for n in networks)


def _resources(reader: Reader, prefix: str, sized: Resources | None = None) -> Resources:
    """Requests and limits: configured, else the row's default, else `sized` (Prometheus' come from the
    sizing; Grafana's have defaults in the table)."""
    resources = Resources(
        cpu_request=reader.text(f"{prefix}CpuRequest", computed=sized.cpu_request if sized else None),
        cpu_limit=reader.text(f"{prefix}CpuLimit", computed=sized.cpu_limit if sized else None),
        memory_request=reader.text(f"{prefix}MemoryRequest", computed=sized.memory_request if sized else None),
        memory_limit=reader.text(f"{prefix}MemoryLimit", computed=sized.memory_limit if sized else None),
    )
    if bytes_of(resources.memory_request) > bytes_of(resources.memory_limit):
        reader.problem(f"{prefix}MemoryRequest", resources.memory_request,
                       f"exceeds {prefix}MemoryLimit ({resources.memory_limit})",
                       f"raise {prefix}MemoryLimit or lower {prefix}MemoryRequest")
    if millicores(resources.cpu_request) > millicores(resources.cpu_limit):
        reader.problem(f"{prefix}CpuRequest", resources.cpu_request,
                       f"exceeds {prefix}CpuLimit ({resources.cpu_limit})",
                       f"raise {prefix}CpuLimit or lower {prefix}CpuRequest")
    return resources


def _storage(reader: Reader, prefix: str, sized: str | None = None) -> Storage:
    return Storage(
        persistent=reader.text(f"{prefix}Storage") == "persistentVolumeClaim",
        size=reader.text(f"{prefix}StorageSize", computed=sized),
        storage_class=reader.optional_text(f"{prefix}StorageClass"),
        size_configured=sized is None or reader.optional_text(f"{prefix}StorageSize") is not None,
    )


def _refuse_own_monitoring_keys(reader: Reader, monitoring: MonitoringSettings) -> None:
    """With the user's Prometheus Operator, the keys that shape our Prometheus mean nothing."""
    if monitoring.alerting.deploys_alertmanager:
        reader.problem("alertReceivers", "<hidden>", "with prometheusOperator your own Alertmanager routes the "
                       "PrometheusRule's alerts", "pulumi config rm alertReceivers; route severity, alertname and "
                       "ray_io_cluster in your Alertmanager (docs/existing-clusters.md)")
    for key in STORE_KEYS:
        value = reader.value(key)
        if value is not None and not reader.is_default(key, value):
            reader.problem(key, "<hidden>" if key == "remoteWrite" else value,
                           "configures our Prometheus and Grafana, and with prometheusOperator yours write and "
                           "query", f"pulumi config rm {key}; set remoteWrite in your Prometheus resource "
                           "(docs/remote-storage.md, Prometheus Operator)")
