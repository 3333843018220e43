"""Settings of the Kubernetes platform (minikube, EKS, GKE): namespaces, the RayCluster, sizes."""

from __future__ import annotations

import re
from dataclasses import dataclass

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
from stacks.settings.reader import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    MEMORY,
    MEMORY_FLOOR_WHY,
    MIN_MEMORY_LIMIT,
    Reader,
    at_least,
)
from stacks.settings.shared import MonitoringSettings, read_monitoring

CPU = re.compile(r"^(\d+m|\d+(\.\d{1,3})?)$")
MIN_CPU_LIMIT = "50m"
MIN_STORAGE = "128Mi"
# An image reference: [registry/]repository[:tag][@digest].
IMAGE = re.compile(r"^[a-z0-9]+([._/:-][a-z0-9]+)*(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$")


@dataclass(frozen=True)
class KubernetesSettings:
    monitoring: MonitoringSettings
    namespace: str
    create_namespace: bool
    ray_cluster_name: str
    ray_cluster_namespace: str
    ray_head_container: str
    watch_namespaces: tuple[str, ...] | None  # None: every namespace (cluster-wide RBAC)
    head_restart: str  # "upgradeStrategy" | "none"
    prometheus_resources: Resources
    prometheus_storage: Storage
    grafana_resources: Resources
    grafana_storage: Storage
    grafana_service_type: str
    grafana_service_port: int
    grafana_node_port: int | None
    ray_dashboard_node_port: int | None  # None: no Service for the Ray Dashboard
    kuberay_namespace: str | None  # None: KubeRay is already installed
    ray_cluster: RayClusterShape | None  # None: patch the existing RayCluster named above
    create_ray_namespace: bool  # with ray_cluster: create ray_cluster_namespace
    targets: tuple[PatchTarget, ...]  # patch mode: every RayCluster / RayService to patch
    prometheus_operator: PrometheusOperatorSettings | None  # None: our own Prometheus and Grafana


def _resources(reader: Reader, prefix: str, defaults: Resources, computed: bool = False) -> Resources:
    """Requests and limits; `computed` defaults come from the sizing, so none is recorded as declared."""
    cpu_why = "must be a Kubernetes CPU quantity such as 250m or 1"
    mem_why = "must be a Kubernetes memory quantity such as 512Mi or 2Gi"

    def read(key: str, default: str, pattern: re.Pattern, why: str) -> str:
        return reader.string(f"{prefix}{key}", None if computed else default, pattern, why, default) or default

    resources = Resources(
        cpu_request=read("CpuRequest", defaults.cpu_request, CPU, cpu_why),
        cpu_limit=read("CpuLimit", defaults.cpu_limit, CPU, cpu_why),
        memory_request=read("MemoryRequest", defaults.memory_request, MEMORY, mem_why),
        memory_limit=read("MemoryLimit", defaults.memory_limit, MEMORY, mem_why),
    )
    if not at_least(reader, f"{prefix}MemoryLimit", resources.memory_limit, MIN_MEMORY_LIMIT, MEMORY_FLOOR_WHY,
                    defaults.memory_limit):
        pass
    elif bytes_of(resources.memory_request) > bytes_of(resources.memory_limit):
        reader.problem(f"{prefix}MemoryRequest", resources.memory_request,
                       f"exceeds {prefix}MemoryLimit ({resources.memory_limit})",
                       f"raise {prefix}MemoryLimit or lower {prefix}MemoryRequest")
    if _millicores(resources.cpu_limit) < _millicores(MIN_CPU_LIMIT):
        reader.problem(f"{prefix}CpuLimit", resources.cpu_limit,
                       f"must be at least {MIN_CPU_LIMIT}: less throttles the container until its probes fail",
                       f"pulumi config set {prefix}CpuLimit {defaults.cpu_limit}")
    elif _millicores(resources.cpu_request) > _millicores(resources.cpu_limit):
        reader.problem(f"{prefix}CpuRequest", resources.cpu_request,
                       f"exceeds {prefix}CpuLimit ({resources.cpu_limit})",
                       f"raise {prefix}CpuLimit or lower {prefix}CpuRequest")
    return resources


def _millicores(quantity: str) -> float:
    return float(quantity[:-1]) if quantity.endswith("m") else float(quantity) * 1000


def _storage(reader: Reader, prefix: str, default_size: str, computed: bool = False) -> Storage:
    kind = reader.choice(f"{prefix}Storage", "emptyDir", ("emptyDir", "persistentVolumeClaim"))
    size = reader.string(f"{prefix}StorageSize", None if computed else default_size, MEMORY,
                         "must be a Kubernetes storage quantity such as 10Gi", default_size) or default_size
    return Storage(
        persistent=kind == "persistentVolumeClaim",
        size=at_least(reader, f"{prefix}StorageSize", size, MIN_STORAGE, "a database and its journal need room",
                      default_size) or default_size,
        storage_class=reader.string(f"{prefix}StorageClass", None, DNS_SUBDOMAIN,
                                    "must be the name of a StorageClass", "standard"),
    )


def _node_size(reader: Reader, prefix: str, cpu: str, memory: str, minimum_memory: str) -> RayNodeSize:
    cpu_value = reader.string(f"{prefix}Cpu", cpu, CPU, "must be a Kubernetes CPU quantity such as 500m or 2", cpu)
    if _millicores(cpu_value) < _millicores("250m"):
        reader.problem(f"{prefix}Cpu", cpu_value, "must be at least 250m: Ray's processes need it to start",
                       f"pulumi config set {prefix}Cpu {cpu}")
        cpu_value = cpu
    memory_value = reader.string(f"{prefix}Memory", memory, MEMORY,
                                 "must be a Kubernetes memory quantity such as 2Gi", memory)
    memory_value = at_least(reader, f"{prefix}Memory", memory_value, minimum_memory,
                            "Ray's own processes take about that much", memory) or memory
    return RayNodeSize(cpu_value, memory_value)


# Keys that shape the created RayCluster, with their defaults: they mean nothing in patch mode.
RAY_CLUSTER_KEYS = ("rayImage", "rayHeadCpu", "rayHeadMemory", "rayWorkerCpu", "rayWorkerMemory",
                    "rayWorkerMinReplicas", "rayWorkerMaxReplicas", "createRayNamespace")


# Keys of our own Prometheus and Grafana's remote storage: the user's Prometheus Operator has its own.
STORE_KEYS = ("remoteWrite", "prometheusAgent", "grafanaQueryUrl", "grafanaQueryAuth")


def _ray_cluster_shape(reader: Reader) -> RayClusterShape:
    """Fits `minikube start --cpus 4 --memory 8g` beside Prometheus, Grafana and KubeRay (README)."""
    minimum = reader.integer("rayWorkerMinReplicas", 1, 0, 100, 1)
    maximum = reader.integer("rayWorkerMaxReplicas", 3, 1, 100, 3)
    if minimum > maximum:
        reader.problem("rayWorkerMinReplicas", minimum, f"exceeds rayWorkerMaxReplicas ({maximum})",
                       "lower rayWorkerMinReplicas or raise rayWorkerMaxReplicas")
    return RayClusterShape(
        # Unset means the pinned image (components/versions.py): no second copy of the pin in Pulumi.yaml.
        image=reader.string("rayImage", None, IMAGE, "must be a container image such as "
                            f"{RAY_IMAGE} or registry.example.com/team/ray:2.60.0-py311", RAY_IMAGE) or RAY_IMAGE,
        head=_node_size(reader, "rayHead", "1", "2Gi", "1Gi"),
        worker=_node_size(reader, "rayWorker", "500m", "1Gi", "512Mi"),
        worker_min_replicas=minimum,
        worker_max_replicas=maximum,
    )


def read_kubernetes(reader: Reader) -> KubernetesSettings:
    name_why = "must be a Kubernetes name: lowercase letters, digits and '-', at most 63"
    namespace = reader.string("namespace", "monitoring", DNS_LABEL, name_why, "monitoring")
    ray_namespace = reader.string("rayClusterNamespace", "ray-system", DNS_LABEL, name_why, "ray-system")
    watch_all = reader.boolean("watchAllNamespaces", False)
    watched = reader.string_list("watchNamespaces")
    for bad in [n for n in watched or [] if not DNS_LABEL.match(n)]:
        reader.problem("watchNamespaces", bad, name_why, "list namespace names, e.g. [ray-system]")
    if watch_all and watched:
        reader.problem("watchNamespaces", watched, "cannot be combined with watchAllNamespaces: true",
                       "remove one of the two keys")
    cluster_name = reader.string("rayClusterName", "ray-training-cluster", DNS_SUBDOMAIN,
                                 "must be a RayCluster name: lowercase letters, digits, '-' and '.'",
                                 "ray-training-cluster")
    head_container = reader.string("rayHeadContainer", "ray-head", DNS_LABEL, name_why, "ray-head")
    targets = read_targets(reader, cluster_name, ray_namespace, head_container)
    # Every target's namespace is always watched: its head shows the charts.
    watch = None if watch_all else tuple(dict.fromkeys(
        [ray_namespace, *(t.namespace for t in targets), *(watched or [])]))

    service_type = reader.choice("grafanaServiceType", "ClusterIP", ("ClusterIP", "NodePort", "LoadBalancer"))
    node_port = reader.integer("grafanaNodePort", None, 30000, 32767, 30300)
    if node_port is not None and service_type == "ClusterIP":
        reader.problem("grafanaNodePort", node_port, "needs grafanaServiceType NodePort or LoadBalancer",
                       "pulumi config set grafanaServiceType NodePort")
    install_kuberay = reader.boolean("installKubeRay", False)
    kuberay_namespace = reader.string("kuberayNamespace", "kuberay-system", DNS_LABEL, name_why, "kuberay-system")
    create_cluster = reader.boolean("createRayCluster", False)
    create_ray_namespace = reader.boolean("createRayNamespace", True)
    shape = _ray_cluster_shape(reader)
    if not create_cluster:
        for key in RAY_CLUSTER_KEYS:
            value = reader.value(key)
            if value is not None and not reader.is_default(key, value):
                reader.problem(key, value, "shapes the RayCluster the stack creates, and createRayCluster is false",
                               f"pulumi config set createRayCluster true, or pulumi config rm {key}")
    if create_cluster and reader.value("rayClusters") is not None:
        reader.problem("rayClusters", "<list>", "lists clusters to patch, and createRayCluster is true",
                       "pulumi config set createRayCluster false, or pulumi config rm rayClusters")
    operator = read_prometheus_operator(reader)
    monitoring = read_monitoring(reader)
    if operator and monitoring.alerting.deploys_alertmanager:
        reader.problem("alertReceivers", "<hidden>", "with prometheusOperator your own Alertmanager routes the "
                       "PrometheusRule's alerts", "pulumi config rm alertReceivers; route severity, alertname and "
                       "ray_io_cluster in your Alertmanager (README)")
    if operator:
        for key in STORE_KEYS:
            value = reader.value(key)
            if value is not None and not reader.is_default(key, value):
                reader.problem(key, "<hidden>" if key == "remoteWrite" else value,
                               "configures our Prometheus and Grafana, and with prometheusOperator yours write and "
                               "query", f"pulumi config rm {key}; set remoteWrite in your Prometheus resource "
                               "(README: Beyond one Prometheus, Prometheus Operator)")
    sizing = monitoring.sizing
    prometheus_storage = _storage(reader, "prometheus", sizing.volume_size, computed=True)
    if bytes_of(monitoring.retention_size) > 0.95 * bytes_of(prometheus_storage.size):
        reader.problem("retentionSize", monitoring.retention_size,
                       f"does not fit prometheusStorageSize ({prometheus_storage.size}) with 5% to spare",
                       "raise prometheusStorageSize or lower retentionSize (or unset both: they are sized "
                       "from rayNodes)")
    return KubernetesSettings(
        monitoring=monitoring,
        namespace=namespace,
        create_namespace=reader.boolean("createNamespace", False),
        ray_cluster_name=cluster_name,
        ray_cluster_namespace=ray_namespace,
        ray_head_container=head_container,
        watch_namespaces=watch,
        head_restart=reader.choice("headRestart", "upgradeStrategy", ("upgradeStrategy", "none")),
        prometheus_resources=_resources(reader, "prometheus", Resources(
            sizing.cpu_request, sizing.cpu_limit, sizing.memory_request, sizing.memory_limit), computed=True),
        prometheus_storage=prometheus_storage,
        grafana_resources=_resources(reader, "grafana", Resources("100m", "500m", "128Mi", "512Mi")),
        grafana_storage=_storage(reader, "grafana", "1Gi"),
        grafana_service_type=service_type,
        grafana_service_port=reader.integer("grafanaServicePort", 3000, 1, 65535, 3000),
        grafana_node_port=node_port,
        ray_dashboard_node_port=reader.integer("rayDashboardNodePort", None, 30000, 32767, 30265),
        kuberay_namespace=kuberay_namespace if install_kuberay else None,
        ray_cluster=shape if create_cluster else None,
        create_ray_namespace=create_ray_namespace,
        targets=() if create_cluster else targets,
        prometheus_operator=operator,
    )
