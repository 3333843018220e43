"""Docker Compose files for the EC2 nodes: plain data in, YAML text out (no Pulumi here).

Every service uses the host network: Ray advertises the host's private address to the other
nodes, and Prometheus scrapes them at the addresses Ray's discovery file lists.
"""

from __future__ import annotations

import shlex
from typing import Any

import yaml

from components.builders.alertmanager_config import FILE_NAME as ALERTMANAGER_FILE
from components.builders.grafana_admin_password import compose_entrypoint
from components.builders.grafana_tls import TLS_DIR
from components.builders.head_layout import (
    ALERTMANAGER_SECRETS,
    BASE,
    DATA,
    GRAFANA_CONFIG,
    GRAFANA_TLS,
    GRAFANA_TLS_SECRETS,
    RAY_AUTH_TOKEN_FILE,
    RAY_HEADERS_FILE,
    RAY_TMP,
)
from components.builders.logs.compose_services import NodeLogs, collector_service, loki_service
from components.builders.prometheus_config import storage_flags
from components.builders.ray_head_env import HEADERS_ENV
from components.constants import (
    ALERTMANAGER_PORT,
    GRAFANA_DASHBOARDS_DIR,
    GRAFANA_PORT,
    GRAFANA_PROVISIONING_DIR,
    GRAFANA_SECRETS_DIR,
    GRAFANA_UID,
    NODE_EXPORTER_UID,
    PROMETHEUS_CONFIG_DIR,
    PROMETHEUS_PORT,
    PROMETHEUS_UID,
    RAY_GCS_PORT,
    RAY_METRICS_PORT,
    RAY_SLICE,
)
from components.versions import (
    ALERTMANAGER_IMAGE,
    GRAFANA_IMAGE,
    NGINX_IMAGE,
    NODE_EXPORTER_IMAGE,
    PROMETHEUS_IMAGE,
)

RAY_HEADERS_SECRET = "ray-prometheus-headers"  # the Compose secret: /run/secrets/<name> in the head
RAY_TOKEN_SECRET = "ray-auth-token"  # the Compose secret holding Ray's token, on every node
GRAFANA_CONFIG_MOUNT = "/etc/grafana/config"  # where the container sees it

# Ray sizes its object store from /dev/shm; Docker's default 64 MB would push it to disk.
RAY_SHM_SIZE = "8gb"


def _service(image: str, **extra: Any) -> dict[str, Any]:
    return {"image": image, "restart": "unless-stopped", "network_mode": "host", **extra}


def _node_exporter() -> dict[str, Any]:
    return _service(
        NODE_EXPORTER_IMAGE,
        pid="host",
        command=["--path.rootfs=/host"],
        volumes=["/:/host:ro,rslave"],
        user=f"{NODE_EXPORTER_UID}:{NODE_EXPORTER_UID}",
        read_only=True,
    )


def _compose_bytes(quantity: str) -> str:
    """A Kubernetes-style memory quantity (512Mi, 2Gi) as Compose writes it (512m, 2g)."""
    return quantity[:-2] + {"Ki": "k", "Mi": "m", "Gi": "g", "Ti": "t"}[quantity[-2:]]


def _grafana_tls() -> dict[str, Any]:
    # nginx's master reads the certificate and key as root, then its workers drop to nginx.
    return _service(
        NGINX_IMAGE,
        volumes=[f"{GRAFANA_TLS}:/etc/nginx/conf.d:ro", f"{GRAFANA_TLS_SECRETS}:{TLS_DIR}:ro"],
        tmpfs=["/var/cache/nginx", "/var/run", "/tmp"],
        read_only=True,
    )


def _alertmanager() -> dict[str, Any]:
    return _service(
        ALERTMANAGER_IMAGE,
        command=[f"--config.file=/etc/alertmanager/{ALERTMANAGER_FILE}", "--storage.path=/alertmanager",
                 # The head's own Prometheus is its one client: whoever else reached it could silence alerts.
                 f"--web.listen-address=127.0.0.1:{ALERTMANAGER_PORT}", "--cluster.listen-address="],
        user=f"{PROMETHEUS_UID}:{PROMETHEUS_UID}",
        volumes=[f"{ALERTMANAGER_SECRETS}:/etc/alertmanager:ro", f"{DATA}/alertmanager:/alertmanager"],
        read_only=True,
    )


def token_auth_env() -> dict[str, str]:
    """Ray's token authentication (Ray 2.52+): every node in token mode, the token read from a file."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": f"/run/secrets/{RAY_TOKEN_SECRET}"}


def _with_secret(compose: dict[str, Any], service: str, name: str, host_file: str) -> None:
    """A Compose secret: `host_file` (its owner and mode as the apply script wrote them) at
    /run/secrets/<name> in `service`, never in the Compose file or an environment file."""
    compose["services"][service]["secrets"] = [*compose["services"][service].get("secrets", []), name]
    compose["secrets"] = {**compose.get("secrets", {}), name: {"file": host_file}}


def _with_token(compose: dict[str, Any], service: str) -> None:
    ray = compose["services"][service]
    ray["environment"] = {**ray.get("environment", {}), **token_auth_env()}
    _with_secret(compose, service, RAY_TOKEN_SECRET, RAY_AUTH_TOKEN_FILE)


def _ray(image: str, command: list[str], gpus: bool, **extra: Any) -> dict[str, Any]:
    # A job's code runs here: in Ray's own slice, which the instance metadata guard closes (cloud_init.py);
    # no privilege gain (the image's passwordless sudo is setuid: no-new-privileges makes it fail) and no
    # capability, even for root (no raw sockets to read the loopback, no firewall changes).
    ray = _service(image, command=command, shm_size=RAY_SHM_SIZE, volumes=[f"{RAY_TMP}:/tmp/ray"],
                   cgroup_parent=RAY_SLICE, security_opt=["no-new-privileges:true"], cap_drop=["ALL"], **extra)
    if gpus:
        # Every GPU of the instance, through the NVIDIA container toolkit (the GPU AMI has it).
        ray["deploy"] = {"resources": {"reservations": {"devices": [
            {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]}}}
    return ray


def head_compose(head_env: list[dict[str, Any]], retention_time: str, retention_size: str, prometheus_memory: str,
                 ray_image: str, gpus: bool = False, alertmanager: bool = False, agent: bool = False,
                 ray_query_headers: bool = False, head_runs_tasks: bool = True, token_auth: bool = False,
                 grafana_tls: bool = False, logs: NodeLogs | None = None, loki: str | None = None,
                 loki_memory: str = "1g") -> str:
    """`logs`: the head's log collector; `loki`: Loki's configuration, when the head runs the log store;
    `agent`: Prometheus in agent mode; `ray_query_headers`: the head reads RAY_PROMETHEUS_HEADERS from
    RAY_HEADERS_FILE (a Compose secret) as it starts, so the credential is in no Compose file or env file;
    `head_runs_tasks` False: the head offers Ray no CPU, so tasks (a job's code) run on the workers, away
    from the monitoring stack and the head's role."""
    ray_command = ["ray", "start", "--head", f"--port={RAY_GCS_PORT}", "--dashboard-host=0.0.0.0",
                   f"--metrics-export-port={RAY_METRICS_PORT}", *([] if head_runs_tasks else ["--num-cpus=0"]),
                   "--block"]
    if ray_query_headers:
        # $$: Compose's escape for a literal $.
        ray_command = ["sh", "-c", f'{HEADERS_ENV}="$$(cat /run/secrets/{RAY_HEADERS_SECRET})" '
                       f"&& export {HEADERS_ENV} && exec {shlex.join(ray_command)}"]
    compose = {
        "services": {
            "ray-head": _ray(
                ray_image, ray_command, gpus,
                # Set before `ray start`: the dashboard reads them once. The iframe host comes from
                # the .env file the apply script writes (the public name is known only on the instance).
                environment={e["name"]: e["value"] for e in head_env},
            ),
            "prometheus": _service(
                PROMETHEUS_IMAGE,
                command=[
                    f"--config.file={PROMETHEUS_CONFIG_DIR}/prometheus.yml",
                    *storage_flags("/prometheus", agent, retention_time, retention_size),
                    f"--web.listen-address=:{PROMETHEUS_PORT}",
                ],
                volumes=[
                    f"{BASE}/prometheus:{PROMETHEUS_CONFIG_DIR}:ro",
                    f"{DATA}/prometheus:/prometheus",
                    f"{RAY_TMP}:/tmp/ray:ro",  # Ray's discovery file
                ],
                read_only=True,
                # Sized from the cluster: an out-of-memory Prometheus restarts instead of starving Ray.
                mem_limit=_compose_bytes(prometheus_memory),
            ),
            "grafana": _service(
                GRAFANA_IMAGE,
                user=str(GRAFANA_UID),
                entrypoint=compose_entrypoint(),  # a rotated admin password reaches Grafana's database first
                environment={"GF_PATHS_CONFIG": f"{GRAFANA_CONFIG_MOUNT}/grafana.ini",
                             "GF_PATHS_PROVISIONING": GRAFANA_PROVISIONING_DIR},
                volumes=[
                    f"{GRAFANA_CONFIG}:{GRAFANA_CONFIG_MOUNT}:ro",
                    f"{BASE}/grafana/provisioning:{GRAFANA_PROVISIONING_DIR}:ro",
                    f"{BASE}/dashboards:{GRAFANA_DASHBOARDS_DIR}:ro",
                    f"{BASE}/secrets:{GRAFANA_SECRETS_DIR}:ro",
                    f"{DATA}/grafana:/var/lib/grafana",
                ],
                tmpfs=["/tmp"],
                read_only=True,
                healthcheck={
                    "test": ["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{GRAFANA_PORT}/api/health"],
                    "interval": "30s",
                    "timeout": "5s",
                    "retries": 3,
                },
            ),
            "node-exporter": _node_exporter(),
        },
    }
    if alertmanager:
        compose["services"]["alertmanager"] = _alertmanager()
    if grafana_tls:
        compose["services"]["grafana-tls"] = _grafana_tls()
    if loki is not None:
        compose["services"]["loki"] = loki_service(loki, loki_memory)
    if logs is not None:
        compose["services"]["log-collector"] = collector_service(logs)
    if ray_query_headers:
        _with_secret(compose, "ray-head", RAY_HEADERS_SECRET, RAY_HEADERS_FILE)
    if token_auth:
        _with_token(compose, "ray-head")
    return yaml.safe_dump(compose, sort_keys=False)


def worker_compose(head_address: str, ray_image: str, gpus: bool = False, token_auth: bool = False,
                   node_env: list[dict[str, Any]] | None = None, logs: NodeLogs | None = None) -> str:
    """`node_env`: what every Ray node gets (ray_head_env.ray_node_env); `logs`: the worker's log collector."""
    environment = {e["name"]: e["value"] for e in node_env or []}
    compose: dict[str, Any] = {
        "services": {
            "ray-worker": _ray(ray_image, ["ray", "start", f"--address={head_address}:{RAY_GCS_PORT}",
                                           f"--metrics-export-port={RAY_METRICS_PORT}", "--block"], gpus,
                               **({"environment": environment} if environment else {})),
            "node-exporter": _node_exporter(),
        },
    }
    if logs is not None:
        compose["services"]["log-collector"] = collector_service(logs)
    if token_auth:
        _with_token(compose, "ray-worker")
    return yaml.safe_dump(compose, sort_keys=False)
