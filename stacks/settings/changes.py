"""What a later `pulumi up --stack aws` does when one setting changes: one row per aws setting, beside the
settings table. docs/aws.md's table is generated from these rows (`python -m stacks.settings.generate`),
and tests/stacks/test_aws_changes.py holds the program to them: it changes each setting under the cloud
mocks and reads what the provider would do from its replacement facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Effect = Literal[
    "nothing",
    "applied on the head",  # objects in the bucket or SecureStrings, applied within a minute; the head stays
    "updates the head in place",  # the instance's tags, root volume size or security groups
    "restarts the head",  # instance type: the provider stops the head, changes it, starts it
    "replaces the head",  # a new instance; the data volume moves to it with its history
    "rolls the workers",  # a new launch template: the group's instance refresh replaces the workers in turn
    "resizes the worker group",  # capacity only
    "adds or removes the workers",
    "grows the data volume",  # EBS ModifyVolume in place, the filesystem grown by the next apply tick
    "replaces the data volume",  # a new, empty volume: refused unless replaceDataVolume
    "changes access in place",  # security group rules, the Elastic IP, IAM and bucket policies
    "refused",  # `pulumi preview` stops with the fix; nothing changes
]


@dataclass(frozen=True)
class Change:
    key: str
    effects: tuple[Effect, ...]
    note: str = ""  # what the docs add: what ends, what is refused
    # Other cases of the same setting: (when, what happens then), each tried by the tests too.
    cases: tuple[tuple[str, tuple[Effect, ...]], ...] = ()


A: tuple[Effect, ...] = ("applied on the head",)
ALERTMANAGER = "with `alertReceivers`: Alertmanager's configuration (SIGHUP)"
STORE = "Prometheus' configuration and the datasource, and the head role's grants for a SigV4 store"

CHANGES: tuple[Change, ...] = (
    Change("scrapeInterval", A, "Prometheus reloads (SIGHUP); a sizing that asks for a larger data volume grows it"),
    Change("retentionTime", ("applied on the head", "grows the data volume"),
           "Compose recreates Prometheus (its flags) with its data; the volume grows when the sizing asks more, "
           "never shrinks"),
    Change("rayNodes", ("applied on the head", "grows the data volume"), "the sizing: Prometheus' memory cap and "
           "retention size (Compose recreates Prometheus), the volume grown when it asks more"),
    Change("metricCardinalityLevel", ("applied on the head", "rolls the workers"),
           "every Ray node's environment: `ray-head` is recreated (running jobs end), the workers roll"),
    Change("retentionSize", ("applied on the head", "grows the data volume")),
    Change("prometheusMemoryLimit", A, "Compose recreates Prometheus with its data"),
    Change("datasourceName", A, "the datasource and the Ray head's `RAY_PROMETHEUS_NAME` (`ray-head` is recreated)"),
    Change("grafanaIframeHost", A, "`.env`: `ray-head` is recreated"),
    Change("rayVersion", A, "the dashboards (Grafana's provisioning reload)"),
    Change("rayImage", ("applied on the head", "rolls the workers"), "`ray-head` is recreated (running jobs end)"),
    Change("alertTargetDownFor", A, "the rule file (SIGHUP)"),
    Change("alertFor", A, "the rule file (SIGHUP)"),
    Change("alertObjectStorePercent", A, "the rule file (SIGHUP)"),
    Change("alertNodeMemoryPercent", A, "the rule file (SIGHUP)"),
    Change("alertFailedTasks", A, "the rule file (SIGHUP)"),
    Change("alertGpuMemoryPercent", A, "the rule file (SIGHUP)"),
    Change("alertSeverity", A, "the rule file (SIGHUP)"),
    Change("alertReceivers", ("applied on the head", "changes access in place"),
           "Alertmanager starts or is reconfigured (SIGHUP); the head role may read its SecureString"),
    Change("externalAlertmanagerUrl", A, "Prometheus' configuration (SIGHUP)"),
    Change("alertGroupWait", A, ALERTMANAGER),
    Change("alertGroupInterval", A, ALERTMANAGER),
    Change("alertRepeatInterval", A, ALERTMANAGER),
    Change("remoteWrite", ("applied on the head", "changes access in place"), STORE),
    Change("prometheusAgent", ("applied on the head", "changes access in place"),
           "Compose recreates Prometheus in agent mode and `ray-head` with the store's query headers"),
    Change("grafanaQueryUrl", A, "the datasource (Grafana's provisioning reload)"),
    Change("grafanaQueryAuth", ("applied on the head", "changes access in place"), STORE),
    Change("logs", ("applied on the head", "rolls the workers"),
           "Loki and the collector start or stop on the head in place (Ray keeps running); the workers' user data "
           "gains or loses the collector, so they roll; turned off, Loki's data stays on the volume"),
    Change("logsRetention", ("applied on the head", "grows the data volume"),
           "Compose recreates Loki (its configuration's digest) with its data; the volume grows when the plan asks "
           "more, never shrinks"),
    Change("logsUrl", ("applied on the head", "rolls the workers"),
           "every collector sends to the other store, Grafana's logs datasource reads it (provisioning reload) and "
           "Loki leaves the head (its data stays on the volume) or starts there; the workers' user data changes, "
           "so they roll"),
    Change("logsAuth", ("applied on the head", "changes access in place", "rolls the workers"),
           "a new header SecureString: the head's collector restarts with it, the workers roll onto its version"),
    Change("logsQueryAuth", ("applied on the head",),
           "Grafana's logs datasource reads with it (provisioning reload): the credential SecureString Grafana "
           "already read logsAuth's from takes the new value"),
    Change("aws:region", ("replaces the head", "rolls the workers"),
           "everything is made anew in the other region and deleted in the old one: the data goes unless "
           "`retainData`"),
    Change("clusterName", ("applied on the head", "changes access in place", "replaces the head", "rolls the workers"),
           "names and tags everywhere: a new head (the data volume moves to it), new roles and parameters"),
    Change("vpcId", ("replaces the head", "resizes the worker group", "rolls the workers"),
           "with its `subnetId`: new security groups and a new head; another zone is refused as for `subnetId`"),
    Change("subnetId", ("replaces the head", "resizes the worker group", "rolls the workers"),
           "in the data volume's zone: a new head, which mounts the volume with its history",
           cases=(("in another zone", ("refused",)),)),
    Change("allowedCidrs", ("applied on the head", "changes access in place"),
           "security group rules; `.env` when the iframe host becomes the public name"),
    Change("allowWorldAccess", ("nothing",), "only allows `0.0.0.0/0` or `::/0` in `allowedCidrs`"),
    Change("rayTokenAuth", ("applied on the head", "changes access in place", "rolls the workers"),
           "`ray-head` is recreated (running jobs end)"),
    Change("grafanaAdminPassword", A, "Grafana restarts and sets it in its database first; the old one stops working"),
    Change("grafanaSecretKey", A, "Grafana restarts"),
    Change("rayAuthToken", ("applied on the head", "rolls the workers"),
           "`ray-head` is recreated with the new token; the workers' launch template names the token's SSM "
           "version, so they roll onto it"),
    Change("grafanaTlsCertificate", ("applied on the head", "changes access in place"),
           "nginx reloads; port 3443 opens to `allowedCidrs`"),
    Change("grafanaTlsKey", ("applied on the head", "changes access in place"), "nginx reloads"),
    Change("openRayDashboard", ("changes access in place",), "port 8265's rule for `allowedCidrs`"),
    Change("headElasticIp", ("changes access in place",), "the Elastic IP is added or released (the head's public "
           "address changes once; the apply tick rewrites `.env`)"),
    Change("workerSubnetIds", ("rolls the workers",)),
    Change("configWriterArns", ("changes access in place",), "the bucket policy"),
    Change("keyName", ("replaces the head", "rolls the workers"), "EC2 sets a key pair only at launch"),
    Change("headInstanceType", ("restarts the head",),
           "the provider stops the head, changes the type and starts it (jobs end; the Elastic IP keeps the "
           "address); a type its zone does not offer is refused",
           cases=(("CPU to GPU type, or back", ("applied on the head", "replaces the head", "rolls the workers")),)),
    Change("workerInstanceType", ("rolls the workers",), "a CPU/GPU change uses a new launch template with the "
           "other AMI"),
    Change("workerCount", ("resizes the worker group",)),
    Change("workerMinCount", ("resizes the worker group",)),
    Change("workerMaxCount", ("resizes the worker group",)),
    Change("rootVolumeSize", ("rolls the workers", "updates the head in place"),
           "the head's root volume grows in place (EBS ModifyVolume)",
           cases=(("smaller than the head's", ("refused",)),)),
    Change("amiId", ("replaces the head", "rolls the workers"), "looked up by id, shared AMIs included"),
    Change("amiHasNvidiaDriver", ("nothing",), "only vouches for `amiId` on GPU types"),
    Change("dataVolumeSize", ("grows the data volume",), "EBS allows one modification per volume every 6 hours",
           cases=(("below the volume's size", ("refused",)),)),
    Change("retainData", ("nothing",), "only what `pulumi destroy` does"),
    Change("replaceDataVolume", ("replaces the data volume", "replaces the head", "resizes the worker group",
                                 "rolls the workers"),
           "only with a change of zone (`subnetId`, `vpcId`): a new, empty data volume there; the old one is "
           "deleted unless `retainData`"),
    Change("managedPrometheus", ("applied on the head", "changes access in place"),
           "a workspace is created; Prometheus writes to it and Grafana reads it, with the head role's grants"),
)

BY_KEY: dict[str, Change] = {c.key: c for c in CHANGES}
