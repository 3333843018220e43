"""Every setting, once: key, kind, default, platforms, check and a one-line doc.

The reader checks values from these rows; `Pulumi.yaml`'s config block and the configuration table in
docs/configuration.md are generated from them (`python -m stacks.settings.generate`), and a test
compares the committed text. Adding a setting is a row here plus the line that uses it.
Checks that involve several keys (a request above its limit, a mode that needs another key) live
beside the code that reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from components.builders.alert_rules import AlertSettings
from components.builders.ray_head_env import CARDINALITY_ENV, CARDINALITY_LEVELS, RAY_DEFAULT_CARDINALITY
from components.versions import KUBERAY_CHART_REPOSITORY, KUBERAY_VERSION, RAY_IMAGE
from stacks.settings import formats as f
from stacks.settings.presets import PRESETS

Kind = Literal["string", "choice", "boolean", "integer", "duration", "cpu", "memory", "size", "url", "list",
               "object"]
Platform = Literal["kubernetes", "aws"]
BOTH: tuple[Platform, ...] = ("kubernetes", "aws")
K8S: tuple[Platform, ...] = ("kubernetes",)
AWS: tuple[Platform, ...] = ("aws",)

# What a value of each kind must look like, unless its row says more precisely.
KIND_FORMAT: dict[str, tuple[re.Pattern[str], str]] = {
    "duration": (f.DURATION, "must be a Prometheus duration such as 30s, 10m, 6h or 15d"),
    "cpu": (f.CPU, "must be a Kubernetes CPU quantity such as 250m or 1"),
    "memory": (f.MEMORY, "must be a Kubernetes memory quantity such as 512Mi or 2Gi"),
    "size": (f.RETENTION_SIZE, "must be a size such as 512MB or 8GB (units B, KB, MB, GB, TB, PB, EB)"),
}


@dataclass(frozen=True, kw_only=True)
class Setting:
    key: str
    kind: Kind
    section: str  # the concern it belongs to, a heading of the docs' table
    doc: str
    platforms: tuple[Platform, ...] = BOTH
    default: Any = None  # None: unset unless configured
    unset: str = ""  # what an unset key without a default means (docs), e.g. "sized from rayNodes"
    pattern: re.Pattern[str] | None = None
    why: str = ""  # what a value must be, in the error
    example: str = ""  # the value the error's fix suggests (default: the default)
    choices: tuple[str, ...] = ()
    low: int = 0
    high: int = 0
    minimum: str | None = None  # for durations and quantities
    because: str = ""  # why the minimum
    path_allowed: bool = True  # for URLs
    secret: bool = False  # holds credentials: must be set with --secret
    single_line: bool = True  # control characters refused (PEM blocks are many lines)

    @property
    def fix_value(self) -> str:
        """The value an error's fix suggests."""
        if self.example:
            return self.example
        if isinstance(self.default, bool):
            return str(self.default).lower()
        return "" if self.default is None else str(self.default)

    @property
    def default_text(self) -> str | None:
        return None if self.default is None else str(self.default)

    @property
    def default_number(self) -> int | None:
        return None if self.default is None else int(self.default)

    def check(self) -> tuple[re.Pattern[str] | None, str]:
        """The pattern a text value must match, and what the error says otherwise."""
        pattern, why = KIND_FORMAT.get(self.kind, (None, ""))
        return self.pattern or pattern, self.why or why or "must not be empty"


class Check(TypedDict, total=False):
    """Checks several rows share."""

    pattern: re.Pattern[str]
    why: str
    minimum: str
    because: str


MEMORY_FLOOR: Check = {"minimum": "128Mi",
                       "because": "Prometheus and Grafana are killed for memory while starting with less"}
CPU_FLOOR: Check = {"minimum": "50m", "because": "less throttles the container until its probes fail"}
STORAGE: Check = {"why": "must be a Kubernetes storage quantity such as 10Gi", "minimum": "128Mi",
                  "because": "a database and its journal need room"}
NAME: Check = {"pattern": f.DNS_LABEL, "why": f.NAME_WHY}
ALERTS = AlertSettings()

S, G, A, D, R = ("Scraping and sizing", "Grafana and the Ray Dashboard", "Alert rules", "Alert delivery",
                 "Remote storage")
KN, KO, KC, KE, KP = ("Kubernetes: where things run", "Kubernetes: our Prometheus and Grafana",
                      "Kubernetes: the created RayCluster", "Kubernetes: clusters you already run",
                      "Kubernetes: your Prometheus Operator")
AN, AI, AD = "aws: network and access", "aws: instances", "aws: the head's data"
L = "Logs"

SETTINGS: tuple[Setting, ...] = (
    Setting(key="preset", kind="choice", section=S, choices=tuple(PRESETS), unset="the stack's name, if a preset's",
            doc="the shipped stack whose settings this stack starts from (its own settings win; see Shipped stacks)"),
    Setting(key="platform", kind="choice", section=S, choices=BOTH, unset="the preset's",
            doc="`kubernetes` or `aws`; a preset implies it (an `eks` stack sets it)"),
    # Scraping and sizing
    Setting(key="scrapeInterval", kind="duration", section=S, default="5s", minimum="1s",
            because="faster scrapes add load on every Ray node and no information",
            doc="scrape and rule evaluation interval; a new Ray node is first scraped within about two intervals"),
    Setting(key="retentionTime", kind="duration", section=S, default="15d", minimum="2h",
            because="Prometheus cuts its data into 2-hour blocks; less keeps none",
            doc="how long Prometheus keeps data"),
    Setting(key="rayNodes", kind="integer", section=S, default=10, low=1, high=10_000, example="50",
            doc="how many Ray nodes (head included) you expect: sizes Prometheus (docs/sizing.md)"),
    Setting(key="metricCardinalityLevel", kind="choice", section=S, choices=CARDINALITY_LEVELS,
            example=RAY_DEFAULT_CARDINALITY, unset=f"Ray's default (`{RAY_DEFAULT_CARDINALITY}` since Ray 2.53)",
            doc=f"`{CARDINALITY_ENV}` on every Ray node the stack creates or patches (patched clusters: the head), "
            "and the series per worker the sizing plans: `legacy` keeps a `WorkerId` label on task and actor "
            "series (about 3x the series), `low` also drops their `Name` (docs/sizing.md)"),
    Setting(key="retentionSize", kind="size", section=S, unset="sized from rayNodes", example="8GB",
            minimum="128MB", because="Prometheus' write-ahead log alone takes 128MB segments; a smaller cap "
            "deletes every block", doc="Prometheus' retention size cap"),
    Setting(key="prometheusMemoryLimit", kind="memory", section=S, unset="sized from rayNodes", example="1Gi",
            **MEMORY_FLOOR, doc="Prometheus' memory limit (its container's cap on the aws head)"),
    # Grafana and the Ray Dashboard
    Setting(key="datasourceName", kind="string", section=G, default="Prometheus", pattern=f.DATASOURCE_NAME,
            why="must be 1-100 letters, digits, spaces, dots, dashes or underscores",
            doc="Grafana's datasource name, given to the Ray head as `RAY_PROMETHEUS_NAME`"),
    Setting(key="grafanaIframeHost", kind="url", section=G, unset="the tunnel or port-forward address",
            path_allowed=False, example="http://localhost:3000",
            why="must be an http(s) URL the browser opens Grafana at, with no path: the stack serves Grafana at "
                "the root of its host (no root_url or serve_from_sub_path); behind an ingress, give it a host of "
                "its own",
            doc="URL your browser opens Grafana at (`RAY_GRAFANA_IFRAME_HOST`)"),
    Setting(key="rayVersion", kind="string", section=G, pattern=f.RAY_VERSION, example="2.58.1",
            why="must be a Ray version such as 2.58.1", unset="the cluster's",
            doc="the Ray version whose dashboards Grafana serves (2.52 to 2.60)"),
    Setting(key="rayImage", kind="string", section=G, pattern=f.IMAGE, example=RAY_IMAGE,
            why=f"must be a container image such as {RAY_IMAGE} or registry.example.com/team/ray:2.60.0-py311",
            unset=f"`{RAY_IMAGE}` (aws GPU types: its `-gpu` variant)",
            doc="the Ray image: the created RayCluster's (kubernetes) or every node's (aws)"),
    # Alert rules
    Setting(key="alertTargetDownFor", kind="duration", section=A, default=ALERTS.target_down_for,
            doc="how long a Ray target is down before `RayScrapeTargetDown`"),
    Setting(key="alertFor", kind="duration", section=A, default=ALERTS.sustained_for,
            doc="how long a threshold holds before its alert fires"),
    Setting(key="alertObjectStorePercent", kind="integer", section=A, default=ALERTS.object_store_percent, low=1,
            high=100, doc="object store use (percent) that fires `RayObjectStoreFull`"),
    Setting(key="alertNodeMemoryPercent", kind="integer", section=A, default=ALERTS.node_memory_percent, low=1,
            high=100, doc="node memory use (percent) that fires `RayNodeMemoryHigh`"),
    Setting(key="alertFailedTasks", kind="integer", section=A, default=ALERTS.failed_tasks, low=0,
            high=1_000_000, doc="failed tasks in 10 minutes that fire `RayFailedTasksRising`"),
    Setting(key="alertGpuMemoryPercent", kind="integer", section=A, default=ALERTS.gpu_memory_percent, low=1,
            high=100, doc="GPU memory use (percent) that fires `RayGpuMemoryHigh`"),
    Setting(key="alertSeverity", kind="object", section=A, unset="each rule's own",
            doc="alert name -> `critical` or `warning`: `pulumi config set --path "
            "'alertSeverity.RayObjectStoreFull' critical`"),
    # Alert delivery
    Setting(key="alertReceivers", kind="object", section=D, secret=True, unset="none",
            doc="where alerts go: `[{name, type: slack|pagerduty|email|webhook, ...}]` (docs/alerting.md)"),
    Setting(key="externalAlertmanagerUrl", kind="url", section=D, unset="none",
            why="must be the http(s) URL of an Alertmanager", example="http://alertmanager.monitoring.svc:9093",
            doc="an Alertmanager you already run, instead of `alertReceivers`"),
    Setting(key="alertGroupWait", kind="duration", section=D, default="30s",
            doc="Alertmanager waits this long to batch a new alert group"),
    Setting(key="alertGroupInterval", kind="duration", section=D, default="5m", minimum="1s",
            because="Alertmanager needs it", doc="Alertmanager updates a group at most this often"),
    Setting(key="alertRepeatInterval", kind="duration", section=D, default="4h", minimum="1m",
            because="a still-firing alert would page every few seconds",
            doc="Alertmanager repeats a still-firing alert after this long"),
    # Remote storage
    Setting(key="remoteWrite", kind="object", section=R, unset="none",
            doc="stores Prometheus also writes to: `[{url, auth: {type: none|basic|bearer|sigv4, ...}}]`; "
            "credentials as secrets (docs/remote-storage.md)"),
    Setting(key="prometheusAgent", kind="boolean", section=R, default=False,
            doc="Prometheus in agent mode: scrape and forward only; needs `remoteWrite` and `grafanaQueryUrl`"),
    Setting(key="grafanaQueryUrl", kind="string", section=R, unset="our Prometheus",
            doc="the store's Prometheus-compatible query URL: Grafana (and in agent mode Ray) read it"),
    Setting(key="grafanaQueryAuth", kind="object", section=R, unset="none",
            doc="how they authenticate there: `{type, username, password, token, region}` as in `remoteWrite`"),
    # Logs
    Setting(key="logs", kind="boolean", section=L,
            unset="on where the stack creates the Ray nodes and runs Grafana (aws; minikube's created RayCluster); "
                  "off for clusters it patches (true adds a collector to their heads) and with prometheusOperator",
            doc="every Ray node's log files (raylet, GCS, workers, job drivers ...) shipped to Loki beside "
                "Prometheus and shown in Grafana; on clusters the stack patches, their heads' (docs/logs.md)"),
    Setting(key="logsUrl", kind="string", section=L, unset="the Loki the stack deploys",
            doc="your own Loki's base URL (https://logs-prod-006.grafana.net): the collectors send OTLP to "
                "`/otlp/v1/logs` there, Grafana queries it, and no Loki is deployed (docs/logs.md)"),
    Setting(key="logsAuth", kind="object", section=L, unset="none",
            doc="how the collectors authenticate to `logsUrl`: `{type: none|basic|bearer, username, password, "
                "token}`, the credential a secret; a write-only one where the store offers it"),
    Setting(key="logsQueryAuth", kind="object", section=L, unset="logsAuth",
            doc="how Grafana authenticates to `logsUrl` to read, when that is another credential than the "
                "collectors' (as `logsAuth`)"),
    Setting(key="logsRetention", kind="duration", section=L, default="7d", minimum="24h",
            because="Loki deletes logs in whole days (its index period)", doc="how long Loki keeps logs"),
    Setting(key="lokiStorage", kind="choice", section=L, platforms=K8S, default="emptyDir",
            choices=("emptyDir", "persistentVolumeClaim"), doc="Loki's volume: `emptyDir` or "
            "`persistentVolumeClaim` (kept across pod restarts; needs a StorageClass)"),
    Setting(key="lokiStorageSize", kind="memory", section=L, platforms=K8S, unset="sized from the created RayCluster's "
            "nodes (rayWorkerMaxReplicas + 1) and logsRetention", example="10Gi", **STORAGE, doc="its size"),
    Setting(key="lokiStorageClass", kind="string", section=L, platforms=K8S, pattern=f.DNS_SUBDOMAIN,
            why="must be the name of a StorageClass", example="standard", unset="the cluster's default",
            doc="StorageClass of its claim"),
    # Kubernetes: where things run
    Setting(key="namespace", kind="string", section=KN, platforms=K8S, default="monitoring", **NAME,
            doc="namespace for Prometheus, Grafana and Alertmanager"),
    Setting(key="createNamespace", kind="boolean", section=KN, platforms=K8S, default=False,
            doc="create that namespace; otherwise it must exist"),
    Setting(key="installKubeRay", kind="boolean", section=KN, platforms=K8S, default=False,
            doc="install the KubeRay operator (Helm chart `kuberay-operator`)"),
    Setting(key="kuberayChartRepository", kind="url", section=KN, platforms=K8S, default=KUBERAY_CHART_REPOSITORY,
            why="must be the http(s) URL of a Helm chart repository serving kuberay-operator",
            doc=f"with `installKubeRay`: the Helm repository the chart (`kuberay-operator` {KUBERAY_VERSION}) "
                "comes from; a mirror's URL where the internet is out of reach"),
    Setting(key="kuberayNamespace", kind="string", section=KN, platforms=K8S, default="kuberay-system", **NAME,
            doc="the namespace KubeRay is installed in (created, under Pod Security's `restricted` profile, "
                "unless it already exists)"),
    Setting(key="rayClusterName", kind="string", section=KN, platforms=K8S, default="ray-training-cluster",
            pattern=f.DNS_SUBDOMAIN, why="must be a RayCluster name: lowercase letters, digits, '-' and '.'",
            doc="the RayCluster to create or patch"),
    Setting(key="rayClusterNamespace", kind="string", section=KN, platforms=K8S, default="ray-system", **NAME,
            doc="its namespace"),
    Setting(key="rayHeadContainer", kind="string", section=KN, platforms=K8S, default="ray-head", **NAME,
            doc="the Ray head container's name"),
    Setting(key="watchNamespaces", kind="list", section=KN, platforms=K8S, default=[],
            doc="more namespaces Prometheus discovers Ray pods in (each must exist)"),
    Setting(key="watchAllNamespaces", kind="boolean", section=KN, platforms=K8S, default=False,
            doc="discover Ray pods cluster-wide, with a ClusterRole instead of Roles"),
    Setting(key="rayDashboardNodePort", kind="integer", section=KN, platforms=K8S, low=30000, high=32767,
            example="30265", unset="none", doc="adds a NodePort Service for the Ray Dashboard"),
    # Kubernetes: our Prometheus and Grafana
    Setting(key="prometheusCpuRequest", kind="cpu", section=KO, platforms=K8S, unset="sized", example="500m",
            doc="Prometheus' CPU request"),
    Setting(key="prometheusCpuLimit", kind="cpu", section=KO, platforms=K8S, unset="sized", example="1",
            **CPU_FLOOR, doc="Prometheus' CPU limit"),
    Setting(key="prometheusMemoryRequest", kind="memory", section=KO, platforms=K8S, unset="sized", example="512Mi",
            doc="Prometheus' memory request"),
    Setting(key="prometheusStorage", kind="choice", section=KO, platforms=K8S, default="emptyDir",
            choices=("emptyDir", "persistentVolumeClaim"), doc="Prometheus' volume: `emptyDir` or "
            "`persistentVolumeClaim`"),
    Setting(key="prometheusStorageSize", kind="memory", section=KO, platforms=K8S, unset="sized", example="10Gi",
            **STORAGE, doc="its size; must exceed `retentionSize` by 5%"),
    Setting(key="prometheusStorageClass", kind="string", section=KO, platforms=K8S, pattern=f.DNS_SUBDOMAIN,
            why="must be the name of a StorageClass", example="standard", unset="the cluster's default",
            doc="StorageClass of its claim"),
    Setting(key="grafanaCpuRequest", kind="cpu", section=KO, platforms=K8S, default="100m",
            doc="Grafana's CPU request"),
    Setting(key="grafanaCpuLimit", kind="cpu", section=KO, platforms=K8S, default="500m", **CPU_FLOOR,
            doc="Grafana's CPU limit"),
    Setting(key="grafanaMemoryRequest", kind="memory", section=KO, platforms=K8S, default="128Mi",
            doc="Grafana's memory request"),
    Setting(key="grafanaMemoryLimit", kind="memory", section=KO, platforms=K8S, default="512Mi", **MEMORY_FLOOR,
            doc="Grafana's memory limit"),
    Setting(key="grafanaStorage", kind="choice", section=KO, platforms=K8S, default="emptyDir",
            choices=("emptyDir", "persistentVolumeClaim"), doc="Grafana's database volume (dashboards are "
            "provisioned either way)"),
    Setting(key="grafanaStorageSize", kind="memory", section=KO, platforms=K8S, default="1Gi", **STORAGE,
            doc="its size"),
    Setting(key="grafanaStorageClass", kind="string", section=KO, platforms=K8S, pattern=f.DNS_SUBDOMAIN,
            why="must be the name of a StorageClass", example="standard", unset="the cluster's default",
            doc="StorageClass of its claim"),
    Setting(key="grafanaServiceType", kind="choice", section=KO, platforms=K8S, default="ClusterIP",
            choices=("ClusterIP", "NodePort", "LoadBalancer"), doc="Grafana's Service type"),
    Setting(key="grafanaServicePort", kind="integer", section=KO, platforms=K8S, default=3000, low=1, high=65535,
            doc="Grafana's Service port"),
    Setting(key="grafanaLoadBalancerSourceRanges", kind="list", section=KO, platforms=K8S, default=[],
            doc="with `grafanaServiceType: LoadBalancer` (required then): the CIDRs the load balancer admits; "
                "Grafana serves anonymous viewers and its admin login over plain HTTP"),
    Setting(key="grafanaNodePort", kind="integer", section=KO, platforms=K8S, low=30000, high=32767,
            example="30300", unset="chosen by Kubernetes", doc="Grafana's nodePort (NodePort or LoadBalancer)"),
    # Kubernetes: the created RayCluster
    Setting(key="createRayCluster", kind="boolean", section=KC, platforms=K8S, default=False,
            doc="create the RayCluster with monitoring wired in; `false` patches clusters you run"),
    Setting(key="createRayNamespace", kind="boolean", section=KC, platforms=K8S, default=True,
            doc="with `createRayCluster`: create `rayClusterNamespace`"),
    Setting(key="rayHeadCpu", kind="cpu", section=KC, platforms=K8S, default="1", minimum="250m",
            because="Ray's processes need it to start", doc="the created head's CPU (request = limit)"),
    Setting(key="rayHeadMemory", kind="memory", section=KC, platforms=K8S, default="2Gi", minimum="1Gi",
            because="Ray's own processes take about that much", doc="the created head's memory (request = limit)"),
    Setting(key="rayWorkerCpu", kind="cpu", section=KC, platforms=K8S, default="500m", minimum="250m",
            because="Ray's processes need it to start", doc="each created worker's CPU (request = limit)"),
    Setting(key="rayWorkerMemory", kind="memory", section=KC, platforms=K8S, default="1Gi", minimum="512Mi",
            because="Ray's own processes take about that much", doc="each created worker's memory"),
    Setting(key="rayWorkerMinReplicas", kind="integer", section=KC, platforms=K8S, default=1, low=0, high=100,
            doc="fewest workers the autoscaler keeps"),
    Setting(key="rayWorkerMaxReplicas", kind="integer", section=KC, platforms=K8S, default=3, low=1, high=100,
            doc="most workers the autoscaler starts"),
    # Kubernetes: clusters you already run
    Setting(key="rayClusters", kind="object", section=KE, platforms=K8S, unset="`rayClusterName` alone",
            doc="clusters to patch: `[{name, namespace, kind: RayCluster|RayService, headContainer}]`"),
    Setting(key="headRestart", kind="choice", section=KE, platforms=K8S, default="upgradeStrategy",
            choices=("upgradeStrategy", "none"),
            doc="`upgradeStrategy` (KubeRay recreates the pods) or `none` (restart the head yourself)"),
    # Kubernetes: your Prometheus Operator
    Setting(key="prometheusOperator", kind="boolean", section=KP, platforms=K8S, default=False,
            doc="use your Prometheus Operator (PodMonitor, PrometheusRule) instead of our Prometheus and Grafana"),
    Setting(key="externalPrometheusUrl", kind="url", section=KP, platforms=K8S, unset="none (required then)",
            why="must be an http(s) URL the Ray head can reach",
            example="http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
            doc="with `prometheusOperator`: the Prometheus the Ray heads query"),
    Setting(key="externalGrafanaUrl", kind="url", section=KP, platforms=K8S, unset="none (required then)",
            why="must be an http(s) URL the Ray head can reach",
            example="http://kube-prometheus-stack-grafana.monitoring.svc:80",
            doc="with `prometheusOperator`: the Grafana the Ray heads check"),
    Setting(key="podMonitorLabels", kind="object", section=KP, platforms=K8S, unset="none",
            doc="with `prometheusOperator`: labels your Prometheus selects PodMonitors and rules by"),
    Setting(key="grafanaDashboardLabels", kind="object", section=KP, platforms=K8S, unset='`grafana_dashboard: "1"`',
            doc="with `prometheusOperator`: labels your Grafana's sidecar loads dashboard ConfigMaps by"),
    # aws: network and access
    Setting(key="aws:region", kind="string", section=AN, platforms=AWS, default="us-west-2", pattern=f.REGION,
            why="must be an AWS region such as us-west-2", doc="the AWS region (the AWS provider's own key)"),
    Setting(key="clusterName", kind="string", section=AN, platforms=AWS, default="ray-cluster", pattern=f.DNS_LABEL,
            why="must be lowercase letters, digits and '-', at most 63",
            doc="names, tags and the `ray_io_cluster` label"),
    Setting(key="vpcId", kind="string", section=AN, platforms=AWS, pattern=f.VPC_ID,
            why="must be a VPC id such as vpc-0123456789abcdef0", example="vpc-0123456789abcdef0",
            unset="the default VPC", doc="where the nodes go; give `subnetId` with it"),
    Setting(key="subnetId", kind="string", section=AN, platforms=AWS, pattern=f.SUBNET_ID,
            why="must be a subnet id such as subnet-0123456789abcdef0", example="subnet-0123456789abcdef0",
            unset="the default VPC's first subnet in a zone offering the instance types (then kept)",
            doc="the nodes' subnet (its zone holds the data volume); needed with `vpcId`"),
    Setting(key="allowedCidrs", kind="list", section=AN, platforms=AWS, default=[],
            doc="CIDRs (IPv4 or IPv6) allowed to reach SSH and the UIs on the head"),
    Setting(key="allowWorldAccess", kind="boolean", section=AN, platforms=AWS, default=False,
            doc="must be `true` for `0.0.0.0/0` or `::/0` in `allowedCidrs`"),
    Setting(key="rayTokenAuth", kind="boolean", section=G, platforms=BOTH, default=True,
            doc="Ray's token authentication (RAY_AUTH_MODE=token) on the nodes the stack creates (EC2 nodes, the "
                "created RayCluster), with a generated token or yours (the rayAuthToken output): the dashboard's "
                "API and job submission need it. Patched clusters: docs/existing-clusters.md"),
    Setting(key="grafanaAdminPassword", kind="string", section=G, secret=True, pattern=re.compile(r"^\S{16,}$"),
            why="must be at least 16 characters, without spaces", example="-- \"$(vault read ...)\"",
            unset="generated (the grafanaAdminPassword output)",
            doc="Grafana's admin password, yours (a Pulumi secret) instead of a generated one"),
    Setting(key="grafanaSecretKey", kind="string", section=G, secret=True, pattern=re.compile(r"^\S{32,}$"),
            why="must be at least 32 characters, without spaces", example="-- \"$(openssl rand -hex 24)\"",
            unset="generated", doc="the key Grafana encrypts its database's secrets with (a Pulumi secret)"),
    Setting(key="rayAuthToken", kind="string", section=G, secret=True, pattern=re.compile(r"^[!-~]{32,}$"),
            why="must be at least 32 printable characters, without spaces (it travels in HTTP headers)",
            example="-- \"$(openssl rand -hex 24)\"", unset="generated (the rayAuthToken output)",
            doc="with `rayTokenAuth`: Ray's token, yours (a Pulumi secret) instead of a generated one"),
    Setting(key="grafanaTlsCertificate", kind="string", section=AN, platforms=AWS, pattern=f.PEM_CERTIFICATE,
            single_line=False,
            why="must be a PEM certificate (chain), -----BEGIN CERTIFICATE----- ...",
            example='-- "$(cat fullchain.pem)"', unset="none: Grafana over plain HTTP (use the tunnels)",
            doc="the certificate (chain) for grafanaIframeHost's name: Grafana over HTTPS on port 3443, "
                "with grafanaTlsKey"),
    Setting(key="grafanaTlsKey", kind="string", section=AN, platforms=AWS, pattern=f.PEM_KEY, secret=True,
            single_line=False,
            why="must be a PEM private key, -----BEGIN ... PRIVATE KEY----- ...", example='-- "$(cat privkey.pem)"',
            unset="none", doc="grafanaTlsCertificate's private key (a secret: --secret)"),
    Setting(key="openRayDashboard", kind="boolean", section=AN, platforms=AWS, default=False,
            doc="`true`: port 8265 (the Ray Dashboard and its Jobs API, which runs code) open to `allowedCidrs`"),
    Setting(key="headElasticIp", kind="boolean", section=AN, platforms=AWS, default=True,
            doc="a fixed public address for the head (an Elastic IP) that survives a stop/start"),
    Setting(key="workerSubnetIds", kind="list", section=AN, platforms=AWS, default=[],
            doc="the workers' subnets, each with a NAT route out (workers there get no public address); "
                "empty: the head's subnet, workers with a public IPv4 to reach the image registry"),
    Setting(key="configWriterArns", kind="list", section=AN, platforms=AWS, default=[],
            doc="IAM role or user ARNs that may write the configuration bucket (CI's and yours); empty: the "
                "principal running `pulumi up`"),
    Setting(key="keyName", kind="string", section=AN, platforms=AWS, pattern=f.KEY_PAIR, example="my-key",
            why="must be the name of an existing EC2 key pair (or leave it unset)", unset="none (use SSM)",
            doc="EC2 key pair for SSH"),
    # aws: instances
    Setting(key="headInstanceType", kind="string", section=AI, platforms=AWS, default="m5.xlarge",
            pattern=f.INSTANCE_TYPE, why="must be an EC2 instance type such as m5.xlarge",
            doc="the head's instance type (x86_64; NVIDIA GPU types get the GPU AMI)"),
    Setting(key="workerInstanceType", kind="string", section=AI, platforms=AWS, default="m5.xlarge",
            pattern=f.INSTANCE_TYPE, why="must be an EC2 instance type such as m5.xlarge",
            doc="the workers' instance type"),
    Setting(key="workerCount", kind="integer", section=AI, platforms=AWS, default=1, low=0, high=1000, example="2",
            doc="the workers' desired capacity"),
    Setting(key="workerMinCount", kind="integer", section=AI, platforms=AWS, low=0, high=1000, example="0",
            unset="`workerCount`", doc="the workers' Auto Scaling Group's lower bound"),
    Setting(key="workerMaxCount", kind="integer", section=AI, platforms=AWS, low=0, high=1000, example="10",
            unset="`workerCount`", doc="its upper bound"),
    Setting(key="rootVolumeSize", kind="integer", section=AI, platforms=AWS, default=100, low=8, high=16384,
            doc="GiB of each node's root volume; at least the AMI's"),
    Setting(key="amiId", kind="string", section=AI, platforms=AWS, pattern=f.AMI_ID,
            why="must be an AMI id such as ami-0123456789abcdef0", example="ami-0123456789abcdef0",
            unset="newest Ubuntu 24.04 LTS (GPU types: AWS's Deep Learning Base GPU AMI)",
            doc="the nodes' AMI"),
    Setting(key="amiHasNvidiaDriver", kind="boolean", section=AI, platforms=AWS, default=False,
            doc="`true`: your `amiId` has the NVIDIA driver and container toolkit"),
    # aws: the head's data
    Setting(key="dataVolumeSize", kind="integer", section=AD, platforms=AWS, low=1, high=16384, example="20",
            unset="sized from the retention cap", doc="GiB of the head's data volume"),
    Setting(key="retainData", kind="boolean", section=AD, platforms=AWS, default=False,
            doc="`true`: `pulumi destroy` leaves the data volume"),
    Setting(key="replaceDataVolume", kind="boolean", section=AD, platforms=AWS, default=False,
            doc="`true`: a change that moves the head to another zone (`subnetId`, `vpcId`) may make a new, empty "
                "data volume there; the old one is deleted unless `retainData`. Otherwise such a change is refused"),
    Setting(key="managedPrometheus", kind="boolean", section=AD, platforms=AWS, default=False,
            doc="an Amazon Managed Service for Prometheus workspace the head writes to and Grafana reads (SigV4)"),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}


def rows(platform: str) -> tuple[Setting, ...]:
    return tuple(s for s in SETTINGS if platform in s.platforms)
