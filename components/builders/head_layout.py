"""Where everything lives on the aws head: configuration applied from S3 and SSM, Ray's shared temp
dir, the data volume, and the directories each service owns (by the uid its image runs as)."""

from __future__ import annotations

from components.constants import GRAFANA_UID, PROMETHEUS_UID, RAY_UID

BASE = "/opt/ray-monitoring"  # configuration, applied from S3 and SSM (head_config.py)
RAY_TMP = "/var/lib/ray-monitoring/ray"  # the host's copy of Ray's /tmp/ray, shared read-only
ENV_FILE = f"{BASE}/.env"  # values known only on the instance (its public name)
ALERTMANAGER_SECRETS = f"{BASE}/alertmanager"  # alertmanager.yml, from SSM
REMOTE_WRITE_SECRETS = f"{BASE}/prometheus/remote-write"  # Prometheus sees it at remote_write.SECRETS_DIR
RAY_SECRETS = f"{BASE}/ray"  # the Ray head's RAY_PROMETHEUS_HEADERS, from SSM
RAY_HEADERS_FILE = f"{RAY_SECRETS}/prometheus-headers"
RAY_AUTH_TOKEN_FILE = f"{RAY_SECRETS}/auth-token"  # Ray's token (token authentication), on every node
GRAFANA_CONFIG = f"{BASE}/grafana/config"  # grafana.ini; a directory mount sees a replaced file
GRAFANA_TLS = f"{BASE}/grafana-tls"  # the TLS terminator's configuration (nginx's conf.d)
GRAFANA_TLS_SECRETS = f"{BASE}/grafana-tls-secrets"  # its certificate and key, from SSM
# The head's data volume (its own EBS volume): Prometheus' TSDB and Grafana's database outlive the instance.
DATA = "/var/lib/ray-monitoring/data"
# The highest manifest serial applied, on the data volume: a replaced head, whose root disk is new, still
# refuses a manifest older than what its predecessor applied.
SERIAL_FILE = f"{DATA}/.manifest-serial"
GRAFANA_PASSWORD_FILE = f"{BASE}/secrets/admin-password"
# The data volume's filesystem by its UUID (/dev/disk/by-uuid/...), which no reboot or new instance type
# renames (NVMe kernel names are not stable on Nitro): the apply script grows it when EBS grows the volume.
DATA_DEVICE_FILE = f"{BASE}/data-device"
# Mounts the data volume when it is attached (formatting it only when blank); the boot script and every
# apply run call it, and nothing starts a container before it succeeded.
MOUNT_DATA_SCRIPT = f"{BASE}/bin/mount-data.sh"

# The log collector's file offsets and export queue, on each node's own disk beside Ray's logs (they describe
# those files); Loki's chunks and index on the data volume, which outlives the instance as Prometheus' data does.
COLLECTOR_STATE = "/var/lib/ray-monitoring/otelcol"
LOKI_DATA_DIR = f"{DATA}/loki"

# Directories the services write or read, owned by the UID each image runs as.
DIRECTORIES = [
    {"path": RAY_TMP, "uid": RAY_UID, "mode": "0755"},
    {"path": f"{BASE}/secrets", "uid": GRAFANA_UID, "mode": "0750"},
    {"path": ALERTMANAGER_SECRETS, "uid": PROMETHEUS_UID, "mode": "0750"},
    {"path": REMOTE_WRITE_SECRETS, "uid": PROMETHEUS_UID, "mode": "0750"},
    {"path": RAY_SECRETS, "uid": RAY_UID, "mode": "0700"},
    {"path": f"{DATA}/prometheus", "uid": PROMETHEUS_UID, "mode": "0750"},
    {"path": f"{DATA}/grafana", "uid": GRAFANA_UID, "mode": "0750"},
    {"path": f"{DATA}/alertmanager", "uid": PROMETHEUS_UID, "mode": "0750"},
    {"path": COLLECTOR_STATE, "uid": PROMETHEUS_UID, "mode": "0750"},  # the log services run as it
    {"path": LOKI_DATA_DIR, "uid": PROMETHEUS_UID, "mode": "0750"},
]
