"""cloud-init user-data for the EC2 nodes: plain data in, `#cloud-config` text out (no Pulumi here).

The head's user-data only bootstraps: Docker if the AMI lacks it, its data volume, and the apply
script with the timer that keeps the configuration applied from S3 and SSM (head_config.py). No
setting but the bucket, the region and the data volume is in it, so changing one never replaces
the head. No secret is ever in user-data.
"""

from __future__ import annotations

import base64
import gzip
import json
import posixpath
from dataclasses import dataclass
from typing import Any

import yaml

from components.builders.head_config import APPLY_SCRIPT, apply_spec
from components.builders.head_layout import (
    BASE,
    COLLECTOR_STATE,
    DATA,
    DATA_DEVICE_FILE,
    MOUNT_DATA_SCRIPT,
    RAY_AUTH_TOKEN_FILE,
    RAY_TMP,
)
from components.builders.logs.compose_services import (
    COLLECTOR_AUTHORIZATION_FILE,
    COLLECTOR_CONFIG_FILE,
    LOG_SERVICES_UID,
)
from components.constants import ALERTMANAGER_PORT, RAY_METRICS_PORT, RAY_SLICE, RAY_UID

EC2_USER_DATA_LIMIT = 16 * 1024
APPLY_UNIT = "ray-monitoring-apply"
APPLY_EVERY = "1min"  # how soon a changed setting reaches the head after `pulumi up`
VOLUME_WAIT_SECONDS = 600  # a replaced head waits for the volume its predecessor releases
APPLY_ATTEMPTS = 30  # 10 s apart: the manifest may still be being written

RETRIES = 8  # per step, 5 s doubling to 5 min apart: about 15 minutes in all
JOIN_WAIT_SECONDS = 600  # a worker that has not joined Ray by then leaves its group

# Every network step retries: an apt lock, a mirror error or Docker Hub's anonymous pull limit passes.
RETRY = "\n".join([
    "retry() {  # retry COMMAND...: with backoff, for what the network or a lock may refuse for a while",
    "  local attempt delay=5",
    f"  for attempt in $(seq {RETRIES}); do",
    '    "$@" && return 0',
    f'    echo "attempt $attempt of {RETRIES} failed: $*" >&2',
    f"    [[ $attempt -lt {RETRIES} ]] && sleep $delay",
    "    delay=$((delay * 2 > 300 ? 300 : delay * 2))",
    "  done",
    "  return 1",
    "}",
])

# Ubuntu's own packages, only when the AMI has no Docker (NVIDIA's GPU AMIs have Docker CE and Compose).
DOCKER = "\n".join([
    "# shellcheck disable=SC2317  # called through retry",
    "ensure_docker() {",
    "  docker compose version >/dev/null 2>&1 && return 0",
    "  apt-get update -q &&",
    "    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io docker-compose-v2",
    "}",
    "retry ensure_docker",
])

# Containers start only once the data volume is mounted: after a reboot Docker would otherwise start
# them first (the fstab entry is `nofail`) and they would create root-owned directories on the root disk.
DOCKER_AFTER_DATA = f"""\
[Unit]
RequiresMountsFor={DATA}
"""
DOCKER_DROP_IN = "/etc/systemd/system/docker.service.d/ray-monitoring-data.conf"

# Nothing in Ray's containers may reach the instance metadata service: code a Ray job runs would otherwise
# take the node's role credentials, and the image's passwordless sudo makes any uid root. The rule matches
# the containers' cgroup (Compose's cgroup_parent: Ray's slice, and every scope below it), not a uid, so the
# host's own users (ubuntu is uid 1000 too) and the services that sign with the role keep it. The slice is
# started first: iptables resolves the cgroup path when the rule is inserted.
IMDS_GUARD_UNIT = "ray-monitoring-imds-guard"
IMDS_RULE = f"OUTPUT -d 169.254.169.254 -m cgroup --path {RAY_SLICE} -j REJECT"
# The head's Alertmanager listens on 127.0.0.1, which the host network shares with Ray: a job could silence
# every alert. Ray never talks to it; Prometheus (outside the slice) does.
ALERTMANAGER_RULE = f"OUTPUT -o lo -p tcp --dport {ALERTMANAGER_PORT} -m cgroup --path {RAY_SLICE} -j REJECT"
GUARD_RULES = (IMDS_RULE, ALERTMANAGER_RULE)
RAY_SLICE_UNIT = """\
[Unit]
Description=Ray's containers (the instance metadata service is closed to them)
"""
IMDS_GUARD = f"""\
[Unit]
Description=Keep Ray's containers ({RAY_SLICE}) from the instance metadata service and Alertmanager
Requires={RAY_SLICE}
After={RAY_SLICE}
Before=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
""" + "".join(f"ExecStart=/usr/sbin/iptables -w -I {rule}\n" for rule in GUARD_RULES) + "".join(
    f"ExecStop=/usr/sbin/iptables -w -D {rule}\n" for rule in GUARD_RULES) + """
[Install]
WantedBy=multi-user.target
"""
# Docker starts no container, and so no Ray, without the guard in place.
DOCKER_AFTER_GUARD = f"""\
[Unit]
Requires={IMDS_GUARD_UNIT}.service
After={IMDS_GUARD_UNIT}.service
"""
DOCKER_GUARD_DROP_IN = "/etc/systemd/system/docker.service.d/ray-monitoring-imds-guard.conf"
ENABLE_IMDS_GUARD = f"systemctl daemon-reload && systemctl enable --now {IMDS_GUARD_UNIT}.service"


@dataclass(frozen=True)
class HeadBoot:
    region: str
    bucket: str  # holds the manifest and every configuration file
    volume_id: str  # the data volume, attached as /dev/sdf
    signing_key_parameter: str  # the SecureString whose key verifies the manifest


def mount_data_script(volume_id: str) -> str:
    """Mounts the data volume if it is attached: exit 0 once it is mounted, 1 while it is not attached."""
    return "\n".join([
        "#!/usr/bin/env bash",
        "# The data volume, found by its id (Nitro's NVMe link) or its Xen name, formatted only when blank,",
        "# in fstab by filesystem UUID and mounted; its stable by-uuid name is kept for the apply script.",
        "set -euo pipefail",
        f"mountpoint -q {DATA} && exit 0",
        f"volume={volume_id}",
        'device=""',
        'for candidate in "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volume//-/}" /dev/xvdf; do',
        '  [[ -e $candidate ]] && device=$candidate && break',
        "done",
        '[[ -n $device ]] || { echo "data volume ${volume} is not attached (yet)" >&2; exit 1; }',
        'blkid "$device" >/dev/null || mkfs.ext4 -q -L ray-monitoring "$device"',
        'uuid=$(blkid -s UUID -o value "$device")',
        f'echo "/dev/disk/by-uuid/$uuid" > {DATA_DEVICE_FILE}',
        f"install -d -m 0755 {DATA}",
        f'grep -q " {DATA} " /etc/fstab || echo "UUID=$uuid {DATA} ext4 defaults,nofail 0 2" >> /etc/fstab',
        "systemctl daemon-reload  # the mount unit from fstab, which Docker's drop-in requires",
        f"mount {DATA}",
        'resize2fs "$device"  # grows the filesystem when the volume grew while detached',
        "",
    ])


def head_start_script(boot: HeadBoot) -> str:
    tries = VOLUME_WAIT_SECONDS // 5
    return "\n".join([
        "#!/usr/bin/env bash",
        "# Boot: Docker, the data volume (formatted only when blank), the configuration, then the timer.",
        "set -euo pipefail",
        "# The timer applies the configuration every minute, whatever fails below.",
        f"trap 'systemctl daemon-reload; systemctl enable --now {APPLY_UNIT}.timer' EXIT",
        ENABLE_IMDS_GUARD,
        RETRY,
        DOCKER,
        "# shellcheck disable=SC2317  # called through retry",
        "ensure_apply_modules() {  # what the apply script imports",
        "  python3 -c 'import boto3, yaml' 2>/dev/null && return 0",
        "  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-boto3 python3-yaml",
        "}",
        "retry ensure_apply_modules",
        f"for _ in $(seq {tries}); do",
        f"  bash {MOUNT_DATA_SCRIPT} && break",
        "  sleep 5",
        "done",
        f'mountpoint -q {DATA} || {{ echo "data volume {boot.volume_id} not mounted after {tries * 5} s: the apply '
        'timer mounts it when it appears, and starts nothing before" >&2; exit 1; }',
        f"for attempt in $(seq {APPLY_ATTEMPTS}); do",
        f"  python3 {BASE}/bin/apply_config.py {BASE}/boot.json && break",
        f"  [[ $attempt -lt {APPLY_ATTEMPTS} ]] || exit 1",
        "  sleep 10",
        "done",
        "",
    ])


@dataclass(frozen=True)
class WorkerToken:
    """Where a worker reads Ray's token at boot (SSM, with its role): never in its user-data."""

    region: str
    parameter: str
    # The parameter's version, read as `name:version` (SSM GetParameter's selector): a rotated token is
    # a new user-data, so a new launch template version, which the group rolls the workers onto.
    version: int | None = None

    @property
    def selector(self) -> str:
        return self.parameter if self.version is None else f"{self.parameter}:{self.version}"


@dataclass(frozen=True)
class WorkerSecret:
    """A SecureString a worker writes to `path` at boot, for `uid` alone (its directory made for it)."""

    name: str  # the shell function's name: fetch_<name>
    source: WorkerToken  # the parameter and its version, read as Ray's token is
    path: str
    uid: int


def _fetch_secret(secret: WorkerSecret) -> list[str]:
    return [
        "# shellcheck disable=SC2317  # called through retry",
        f"fetch_{secret.name}() {{  # from SSM with the worker's role, readable by its one user only",
        "  python3 -c 'import boto3' 2>/dev/null ||",
        "    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-boto3; } || return 1",
        f"  install -d -m 0700 -o {secret.uid} -g {secret.uid} {posixpath.dirname(secret.path)}",
        # Written by Python itself (mode 0600 from the start), then given to its user.
        "  python3 -c 'import os, sys, boto3; value = boto3.client(\"ssm\", region_name=sys.argv[1])"
        ".get_parameter(Name=sys.argv[2], WithDecryption=True)[\"Parameter\"][\"Value\"]; "
        "os.write(os.open(sys.argv[3], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), value.encode())' "
        f"{secret.source.region} {secret.source.selector} {secret.path}.new &&",
        f"    install -m 0400 -o {secret.uid} -g {secret.uid} {secret.path}.new {secret.path} &&",
        f"    rm -f {secret.path}.new",
        "}",
        f"retry fetch_{secret.name}",
    ]


def _fetch_token(token: WorkerToken) -> list[str]:
    return _fetch_secret(WorkerSecret("ray_token", token, RAY_AUTH_TOKEN_FILE, RAY_UID))


def worker_start_script(token: WorkerToken | None = None, logs: bool = False,
                        logs_header: WorkerToken | None = None) -> str:
    """`logs`: the worker runs the log collector, whose state directory is the log services' own;
    `logs_header`: where it reads the user's log store's Authorization header (logsAuth)."""
    tries = JOIN_WAIT_SECONDS // 10
    return "\n".join([
        "#!/usr/bin/env bash",
        "# Boot: Docker, then Ray joins the head. A worker that cannot join shuts down; its launch template",
        "# makes that a termination, and the Auto Scaling Group starts a new worker.",
        "set -euo pipefail",
        "joined=false",
        "trap '$joined || { echo \"not joined to the Ray head: shutting down for a replacement\" >&2;"
        " shutdown -h +1; }' EXIT",
        ENABLE_IMDS_GUARD,
        RETRY,
        DOCKER,
        f"install -d -m 0755 -o {RAY_UID} -g 100 {RAY_TMP}",
        *([f"install -d -m 0750 -o {LOG_SERVICES_UID} -g {LOG_SERVICES_UID} {COLLECTOR_STATE}"] if logs else []),
        *(_fetch_token(token) if token else []),
        *(_fetch_secret(WorkerSecret("logs_header", logs_header, COLLECTOR_AUTHORIZATION_FILE, LOG_SERVICES_UID))
          if logs_header else []),
        f"retry docker compose --project-directory {BASE} -f {BASE}/compose.yaml up -d",
        "# Ray serves its metrics port once the raylet has registered with the head's GCS.",
        f"for _ in $(seq {tries}); do",
        f"  if curl -sf -o /dev/null http://127.0.0.1:{RAY_METRICS_PORT}/metrics; then",
        "    joined=true",
        f"    systemctl daemon-reload && systemctl enable --now {WORKER_HEALTH_UNIT}.timer",
        "    exit 0",
        "  fi",
        "  sleep 10",
        "done",
        "exit 1",
        "",
    ])


# After it joined, a worker whose Ray stays down (a rotated token the head now refuses, a head that no longer
# knows it) leaves its group: EC2 health checks see a running instance as healthy, whatever Ray does.
WORKER_HEALTH_UNIT = "ray-monitoring-worker-health"
WORKER_HEALTH_MINUTES = 10  # minutes in a row without Ray's metrics port
WORKER_HEALTH_COUNT = "/var/lib/ray-monitoring/unhealthy-minutes"
WORKER_HEALTH_SCRIPT_PATH = f"{BASE}/bin/worker-health.sh"
WORKER_HEALTH_SCRIPT = f"""\
#!/usr/bin/env bash
# Every minute once the worker has joined Ray: {WORKER_HEALTH_MINUTES} minutes in a row without Ray's metrics port and
# it shuts down; its launch template makes that a termination, and the Auto Scaling Group starts a new worker.
set -u
if curl -sf -o /dev/null --max-time 10 http://127.0.0.1:{RAY_METRICS_PORT}/metrics; then
  echo 0 > {WORKER_HEALTH_COUNT}
  exit 0
fi
count=$(( $(cat {WORKER_HEALTH_COUNT} 2>/dev/null || echo 0) + 1 ))
echo "$count" > {WORKER_HEALTH_COUNT}
echo "Ray's metrics port has not answered for $count minute(s)" >&2
if (( count >= {WORKER_HEALTH_MINUTES} )); then
  echo "Ray is down on this worker: shutting down for a replacement" >&2
  shutdown -h now
fi
"""
WORKER_HEALTH_SERVICE = f"""\
[Unit]
Description=Leave the Auto Scaling Group when Ray stays down on this worker

[Service]
Type=oneshot
ExecStart=/usr/bin/bash {WORKER_HEALTH_SCRIPT_PATH}
"""
WORKER_HEALTH_TIMER = """\
[Unit]
Description=Check every minute that Ray runs on this worker

[Timer]
OnActiveSec=1min
OnUnitActiveSec=1min

[Install]
WantedBy=timers.target
"""


APPLY_SERVICE = f"""\
[Unit]
Description=Apply the Ray monitoring configuration from S3 and SSM
After=docker.service network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/bin/python3 {BASE}/bin/apply_config.py {BASE}/boot.json
"""

APPLY_TIMER = f"""\
[Unit]
Description=Apply the Ray monitoring configuration when it changes

[Timer]
OnActiveSec={APPLY_EVERY}
OnUnitInactiveSec={APPLY_EVERY}

[Install]
WantedBy=timers.target
"""


def _file(path: str, content: str, permissions: str = "0644") -> dict[str, Any]:
    return {"path": path, "content": content, "permissions": permissions, "owner": "root:root"}


def _compressed_file(path: str, content: str, permissions: str = "0644") -> dict[str, Any]:
    """gzip + base64 (cloud-init's `gz+b64` encoding): the apply script would fill a third of EC2's
    16 KB user-data as text."""
    data = base64.b64encode(gzip.compress(content.encode(), mtime=0)).decode()
    return {**_file(path, data, permissions), "encoding": "gz+b64"}


def _cloud_config(files: list[dict[str, Any]], start: str) -> str:
    config = {
        "write_files": files + [_file(f"{BASE}/bin/start.sh", start, "0755")],
        "runcmd": [["bash", f"{BASE}/bin/start.sh"]],
    }
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, width=1000)


def _guard_files() -> list[dict[str, Any]]:
    return [_file(f"/etc/systemd/system/{RAY_SLICE}", RAY_SLICE_UNIT),
            _file(f"/etc/systemd/system/{IMDS_GUARD_UNIT}.service", IMDS_GUARD),
            _file(DOCKER_GUARD_DROP_IN, DOCKER_AFTER_GUARD)]


def head_user_data(boot: HeadBoot) -> str:
    files = [
        _file(DOCKER_DROP_IN, DOCKER_AFTER_DATA),
        *_guard_files(),
        _compressed_file(f"{BASE}/bin/apply_config.py", APPLY_SCRIPT),
        _file(MOUNT_DATA_SCRIPT, mount_data_script(boot.volume_id), "0755"),
        _file(f"{BASE}/boot.json",
              json.dumps(apply_spec(boot.region, boot.bucket, boot.signing_key_parameter), indent=1)),
        _file(f"/etc/systemd/system/{APPLY_UNIT}.service", APPLY_SERVICE),
        _file(f"/etc/systemd/system/{APPLY_UNIT}.timer", APPLY_TIMER),
    ]
    return _cloud_config(files, head_start_script(boot))


def worker_user_data(compose_yaml: str, token: WorkerToken | None = None, collector_yaml: str | None = None,
                     logs_header: WorkerToken | None = None) -> str:
    """`collector_yaml`: the log collector's configuration, when the worker ships Ray's logs; `logs_header`:
    its store's Authorization header, when that wants one."""
    # Compressed: as text the collector's configuration would take a third of EC2's 16 KB of user data.
    logs = [_compressed_file(COLLECTOR_CONFIG_FILE, collector_yaml)] if collector_yaml is not None else []
    return _cloud_config([_file(f"{BASE}/compose.yaml", compose_yaml), *logs,
                          *_guard_files(),
                          _file(WORKER_HEALTH_SCRIPT_PATH, WORKER_HEALTH_SCRIPT, "0755"),
                          _file(f"/etc/systemd/system/{WORKER_HEALTH_UNIT}.service", WORKER_HEALTH_SERVICE),
                          _file(f"/etc/systemd/system/{WORKER_HEALTH_UNIT}.timer", WORKER_HEALTH_TIMER)],
                         worker_start_script(token, logs=collector_yaml is not None, logs_header=logs_header))
