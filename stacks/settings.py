"""Typed, validated settings for each stack, read once from Pulumi config.

Every key is checked before any resource exists; all problems are reported together, each
naming the key, the bad value and the fix. Components never read config: they get these.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlparse

from components.alert_rules import AlertSettings
from components.sizing import Sizing, bytes_of, size

PROJECT = "ray-monitoring"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DURATION = re.compile(r"^(?=\d)((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
_RETENTION_SIZE = re.compile(r"^[1-9]\d*(B|KB|MB|GB|TB|PB|EB)$")
_CPU = re.compile(r"^(\d+m|\d+(\.\d{1,3})?)$")
_MEMORY = re.compile(r"^[1-9]\d*(Ki|Mi|Gi|Ti)$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")


class ConfigError(Exception):
    """Raised with every config problem at once, before any resource is registered."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration ({len(problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class Resources:
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


@dataclass(frozen=True)
class Storage:
    """emptyDir when `persistent` is false; otherwise a PersistentVolumeClaim."""

    persistent: bool
    size: str
    storage_class: str | None


@dataclass(frozen=True)
class MonitoringSettings:
    """What both platforms configure the same way."""

    scrape_interval: str
    retention_time: str
    ray_nodes: int  # expected number of Ray nodes, head included: drives the sizing
    sizing: Sizing  # computed from ray_nodes, scrape_interval and retention_time
    retention_size: str  # explicit, or the sizing's
    datasource_name: str  # Grafana datasource name, given to the Ray head as RAY_PROMETHEUS_NAME
    grafana_iframe_host: str | None  # None: the platform's default (a tunnel address)
    alerts: AlertSettings


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
    worker_count: int
    key_name: str | None
    root_volume_size: int
    ami_id: str | None
    prometheus_memory_limit: str  # the Prometheus container's memory cap on the head


Settings = KubernetesSettings | AwsSettings


def describe_problem(key: str, value: Any, why: str, fix: str) -> str:
    """One bad setting, as every config error and warning states it: key, value, why, fix."""
    full = key if ":" in key else f"{PROJECT}:{key}"
    return f"{full} = {value!r}: {why}. Fix: {fix}"


class _Reader:
    """Reads keys through `get`, parsing and checking each, collecting every problem."""

    def __init__(self, get: Callable[[str], Any]):
        self._get = get
        self.problems: list[str] = []
        self.defaults: dict[str, Any] = {}  # every key read, with its default

    def problem(self, key: str, value: Any, why: str, fix: str) -> None:
        self.problems.append(describe_problem(key, value, why, fix))

    def _raw(self, key: str, default: Any) -> Any:
        self.defaults[key] = default
        return self._get(key)

    def string(self, key: str, default: str | None, pattern: re.Pattern | None = None,
               why: str = "", example: str = "") -> str | None:
        value = self._raw(key, default)
        if value is None:
            return default
        value = str(value)
        if value == "" or (pattern is not None and not pattern.match(value)):
            self.problem(key, value, why or "must not be empty", f"pulumi config set {key} {example}")
            return default
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self._raw(key, default)
        if value is None:
            return default
        if value not in choices:
            self.problem(key, value, f"must be one of {', '.join(choices)}",
                         f"pulumi config set {key} {default}")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._raw(key, default)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        self.problem(key, value, "must be true or false", f"pulumi config set {key} {str(default).lower()}")
        return default

    def integer(self, key: str, default: int | None, low: int, high: int, example: int) -> int | None:
        value = self._raw(key, default)
        if value is None:
            return default
        try:
            number = int(str(value))
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            self.problem(key, value, f"must be a whole number from {low} to {high}",
                         f"pulumi config set {key} {example}")
            return default
        return number

    def string_list(self, key: str) -> list[str] | None:
        raw = value = self._raw(key, [])
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(key, raw, "must be a list of strings",
                         f"pulumi config set --path '{key}[0]' VALUE")
            return None
        return value


def _duration(reader: _Reader, key: str, default: str) -> str:
    return reader.string(key, default, _DURATION,
                         "must be a Prometheus duration such as 30s, 10m, 6h or 15d", default)


def _url(reader: _Reader, key: str) -> str | None:
    value = reader.string(key, None)
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.path not in ("", "/") \
            or parsed.query or parsed.fragment:
        reader.problem(key, value, "must be an http(s) URL the browser opens Grafana at, "
                       "with no path", f"pulumi config set {key} http://localhost:3000")
        return None
    return value.rstrip("/")


def _monitoring(reader: _Reader) -> MonitoringSettings:
    scrape_interval = _duration(reader, "scrapeInterval", "5s")
    retention_time = _duration(reader, "retentionTime", "15d")
    ray_nodes = reader.integer("rayNodes", 10, 1, 10_000, 50)
    sizing = size(ray_nodes, scrape_interval, retention_time)
    return MonitoringSettings(
        scrape_interval=scrape_interval,
        retention_time=retention_time,
        ray_nodes=ray_nodes,
        sizing=sizing,
        # Computed unless set: the reader records no default for it.
        retention_size=reader.string("retentionSize", None, _RETENTION_SIZE,
                                     "must be a size such as 512MB or 8GB (units B, KB, MB, GB, TB, PB, EB)",
                                     "8GB") or sizing.retention_size,
        datasource_name=reader.string("datasourceName", "Prometheus", re.compile(r"^[\w .-]{1,100}$"),
                                      "must be 1-100 letters, digits, spaces, dots, dashes or underscores",
                                      "Prometheus"),
        grafana_iframe_host=_url(reader, "grafanaIframeHost"),
        alerts=_alerts(reader),
    )


def _alerts(reader: _Reader) -> AlertSettings:
    d = AlertSettings()
    return AlertSettings(
        target_down_for=_duration(reader, "alertTargetDownFor", d.target_down_for),
        sustained_for=_duration(reader, "alertFor", d.sustained_for),
        object_store_percent=reader.integer("alertObjectStorePercent", d.object_store_percent, 1, 100, 90),
        node_memory_percent=reader.integer("alertNodeMemoryPercent", d.node_memory_percent, 1, 100, 90),
        failed_tasks=reader.integer("alertFailedTasks", d.failed_tasks, 0, 1_000_000, 10),
    )


def _resources(reader: _Reader, prefix: str, defaults: Resources, computed: bool = False) -> Resources:
    """Requests and limits; `computed` defaults come from the sizing, so none is recorded as declared."""
    cpu_why = "must be a Kubernetes CPU quantity such as 250m or 1"
    mem_why = "must be a Kubernetes memory quantity such as 512Mi or 2Gi"

    def read(key: str, default: str, pattern: re.Pattern, why: str) -> str:
        return reader.string(f"{prefix}{key}", None if computed else default, pattern, why, default) or default

    resources = Resources(
        cpu_request=read("CpuRequest", defaults.cpu_request, _CPU, cpu_why),
        cpu_limit=read("CpuLimit", defaults.cpu_limit, _CPU, cpu_why),
        memory_request=read("MemoryRequest", defaults.memory_request, _MEMORY, mem_why),
        memory_limit=read("MemoryLimit", defaults.memory_limit, _MEMORY, mem_why),
    )
    if _mebibytes(resources.memory_request) > _mebibytes(resources.memory_limit):
        reader.problem(f"{prefix}MemoryRequest", resources.memory_request,
                       f"exceeds {prefix}MemoryLimit ({resources.memory_limit})",
                       f"raise {prefix}MemoryLimit or lower {prefix}MemoryRequest")
    if _millicores(resources.cpu_request) > _millicores(resources.cpu_limit):
        reader.problem(f"{prefix}CpuRequest", resources.cpu_request,
                       f"exceeds {prefix}CpuLimit ({resources.cpu_limit})",
                       f"raise {prefix}CpuLimit or lower {prefix}CpuRequest")
    return resources


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}
    return int(quantity[:-2]) * units[quantity[-2:]]


def _millicores(quantity: str) -> float:
    return float(quantity[:-1]) if quantity.endswith("m") else float(quantity) * 1000


def _storage(reader: _Reader, prefix: str, default_size: str, computed: bool = False) -> Storage:
    kind = reader.choice(f"{prefix}Storage", "emptyDir", ("emptyDir", "persistentVolumeClaim"))
    return Storage(
        persistent=kind == "persistentVolumeClaim",
        size=reader.string(f"{prefix}StorageSize", None if computed else default_size, _MEMORY,
                           "must be a Kubernetes storage quantity such as 10Gi", default_size) or default_size,
        storage_class=reader.string(f"{prefix}StorageClass", None, _DNS_SUBDOMAIN,
                                    "must be the name of a StorageClass", "standard"),
    )


def _kubernetes(reader: _Reader) -> KubernetesSettings:
    name_why = "must be a Kubernetes name: lowercase letters, digits and '-', at most 63"
    namespace = reader.string("namespace", "monitoring", _DNS_LABEL, name_why, "monitoring")
    ray_namespace = reader.string("rayClusterNamespace", "ray-system", _DNS_LABEL, name_why, "ray-system")
    watch_all = reader.boolean("watchAllNamespaces", False)
    watched = reader.string_list("watchNamespaces")
    for bad in [n for n in watched or [] if not _DNS_LABEL.match(n)]:
        reader.problem("watchNamespaces", bad, name_why, "list namespace names, e.g. [ray-system]")
    if watch_all and watched:
        reader.problem("watchNamespaces", watched, "cannot be combined with watchAllNamespaces: true",
                       "remove one of the two keys")
    # The patched RayCluster's namespace is always watched: its head shows the charts.
    watch = None if watch_all else tuple(dict.fromkeys([ray_namespace, *(watched or [])]))

    service_type = reader.choice("grafanaServiceType", "ClusterIP", ("ClusterIP", "NodePort", "LoadBalancer"))
    node_port = reader.integer("grafanaNodePort", None, 30000, 32767, 30300)
    if node_port is not None and service_type == "ClusterIP":
        reader.problem("grafanaNodePort", node_port, "needs grafanaServiceType NodePort or LoadBalancer",
                       "pulumi config set grafanaServiceType NodePort")
    monitoring = _monitoring(reader)
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
        ray_cluster_name=reader.string("rayClusterName", "ray-training-cluster", _DNS_SUBDOMAIN,
                                       "must be a RayCluster name: lowercase letters, digits, '-' and '.'",
                                       "ray-training-cluster"),
        ray_cluster_namespace=ray_namespace,
        ray_head_container=reader.string("rayHeadContainer", "ray-head", _DNS_LABEL, name_why, "ray-head"),
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
    )


def _aws(reader: _Reader) -> AwsSettings:
    region = reader.string("aws:region", None, _REGION, "must be an AWS region such as us-west-2", "us-west-2")
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
    monitoring = _monitoring(reader)
    return AwsSettings(
        monitoring=monitoring,
        prometheus_memory_limit=reader.string(
            "prometheusMemoryLimit", None, _MEMORY, "must be a memory quantity such as 512Mi or 2Gi", "1Gi")
        or monitoring.sizing.memory_limit,
        region=region or "",
        cluster_name=reader.string("clusterName", "ray-cluster", _DNS_LABEL,
                                   "must be lowercase letters, digits and '-', at most 63", "ray-cluster"),
        vpc_id=reader.string("vpcId", None, re.compile(r"^vpc-[0-9a-f]{8,17}$"),
                             "must be a VPC id such as vpc-0123456789abcdef0", "vpc-0123456789abcdef0"),
        subnet_id=reader.string("subnetId", None, re.compile(r"^subnet-[0-9a-f]{8,17}$"),
                                "must be a subnet id such as subnet-0123456789abcdef0",
                                "subnet-0123456789abcdef0"),
        allowed_cidrs=tuple(dict.fromkeys(cidrs)),
        head_instance_type=reader.string("headInstanceType", "m5.xlarge", _INSTANCE_TYPE, instance_why,
                                         "m5.xlarge"),
        worker_instance_type=reader.string("workerInstanceType", "m5.xlarge", _INSTANCE_TYPE, instance_why,
                                           "m5.xlarge"),
        worker_count=reader.integer("workerCount", 1, 0, 100, 2),
        key_name=reader.string("keyName", None, re.compile(r"^[\x20-\x7e]{1,255}$"),
                               "must be the name of an existing EC2 key pair (or leave it unset)", "my-key"),
        root_volume_size=reader.integer("rootVolumeSize", 100, 8, 16384, 100),
        ami_id=reader.string("amiId", None, re.compile(r"^ami-[0-9a-f]{8,17}$"),
                             "must be an AMI id such as ami-0123456789abcdef0", "ami-0123456789abcdef0"),
    )


PLATFORMS = {"kubernetes": _kubernetes, "aws": _aws}
# Stacks whose name says which platform they are; other stacks set `platform`.
STACK_PLATFORMS = {"minikube": "kubernetes", "aws": "aws"}


def load(stack: str, config: Mapping[str, Any]) -> Settings:
    """Settings for `stack` from every config value it has (`project:key` -> value)."""

    def get(key: str) -> Any:
        return config.get(key if ":" in key else f"{PROJECT}:{key}")

    reader = _Reader(get)
    platform = reader.choice("platform", STACK_PLATFORMS.get(stack, ""), tuple(PLATFORMS))
    if not platform:
        raise ConfigError([f"{PROJECT}:platform is not set for stack {stack!r}: "
                           f"must be one of {', '.join(PLATFORMS)}. "
                           f"Fix: pulumi config set platform kubernetes"])
    settings = PLATFORMS[platform](reader)
    _reject_unknown_keys(reader, platform, config)
    if reader.problems:
        raise ConfigError(reader.problems)
    return settings


def defaults(platform: str) -> dict[str, Any]:
    """Every key the platform reads, with its default (None: unset unless configured)."""
    reader = _Reader(lambda key: None)
    PLATFORMS[platform](reader)
    return {"platform": None, **reader.defaults}


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, str) and value[:1] in "[{":  # lists arrive as JSON text
        value = json.loads(value)
    return str(value).lower() == str(default).lower()


def _reject_unknown_keys(reader: _Reader, platform: str, config: Mapping[str, Any]) -> None:
    known = defaults(platform)
    others: dict[str, Any] = {}
    for other in PLATFORMS:
        if other != platform:
            others.update(defaults(other))
    for full_key in sorted(config):
        if not full_key.startswith(f"{PROJECT}:"):
            continue
        key = full_key.split(":", 1)[1]
        if key in known:
            continue
        if key in others:
            # Pulumi.yaml declares every key's default for every stack: only a changed value is a mistake.
            if not _same(config[full_key], others[key]):
                reader.problem(key, config[full_key], f"does not apply to platform {platform}",
                               f"pulumi config rm {key}")
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        reader.problem(key, config[full_key], "is not a setting of this project",
                       f"{hint}see the README's configuration reference, or pulumi config rm {key}")
