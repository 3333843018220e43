"""Ports and paths fixed by Ray, KubeRay and the images: facts, not settings."""

# Ray (ray start --metrics-export-port=8080, as KubeRay sets it and the aws stack passes it).
RAY_METRICS_PORT = 8080
RAY_AUTOSCALER_METRICS_PORT = 44217
RAY_DASHBOARD_METRICS_PORT = 44227
RAY_DASHBOARD_PORT = 8265
RAY_GCS_PORT = 6379
RAY_UID = 1000  # the "ray" user of the rayproject/ray images
# The systemd slice every Ray container runs in on EC2 (Compose's cgroup_parent): the metadata guard matches
# it, whatever uid a process there has (the image's sudo makes root of any job).
RAY_SLICE = "ray-monitoring-ray.slice"
# Ray rewrites this file every few seconds; it lists every node's metrics endpoints.
RAY_SD_FILE = "/tmp/ray/prom_metrics_service_discovery.json"
# Ray replaces the file inside its session dir, so Prometheus' file watch misses changes: poll.
RAY_SD_REFRESH = "1s"

PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000
NODE_EXPORTER_PORT = 9100
ALERTMANAGER_PORT = 9093

# Where Prometheus reads prometheus.yml and the rule files, in its container on both stacks.
PROMETHEUS_CONFIG_DIR = "/etc/prometheus"

GRAFANA_TLS_PORT = 3443  # EC2 with grafanaTlsCertificate: browsers reach Grafana over HTTPS here
PROMETHEUS_UID = 65534  # "nobody" in the prom/prometheus image
# node_exporter sees the host's / (read-only): it runs as a uid of its own, so the secrets Prometheus
# and Alertmanager own (as 65534, the image's default user too) stay unreadable to it.
NODE_EXPORTER_UID = 9100
GRAFANA_UID = 472  # "grafana" in the grafana/grafana image (EC2 runs the image as is)
# On Kubernetes Grafana runs as a UID no host account has; the image supports arbitrary UIDs.
GRAFANA_KUBERNETES_UID = 10472

GRAFANA_DATASOURCE_UID = "ray-prometheus"
GRAFANA_LOGS_DATASOURCE_UID = "ray-logs"  # Loki's datasource, when the stack ships logs
GRAFANA_DASHBOARD_FOLDER = "Ray"
# Grafana reads the admin password from this file ($__file{} in grafana.ini) on both stacks.
GRAFANA_SECRETS_DIR = "/etc/grafana/secrets"
GRAFANA_ADMIN_PASSWORD_FILE = f"{GRAFANA_SECRETS_DIR}/admin-password"
GRAFANA_SECRET_KEY = "secret-key"  # encrypts the credentials in Grafana's database; generated per stack
GRAFANA_SECRET_KEY_FILE = f"{GRAFANA_SECRETS_DIR}/{GRAFANA_SECRET_KEY}"
# The password or token Grafana's datasource sends to a store (grafanaQueryAuth), beside it.
GRAFANA_DATASOURCE_CREDENTIAL = "datasource-credential"
GRAFANA_DATASOURCE_CREDENTIAL_FILE = f"{GRAFANA_SECRETS_DIR}/{GRAFANA_DATASOURCE_CREDENTIAL}"
GRAFANA_LOGS_CREDENTIAL = "logs-credential"  # the password or token Grafana reads logsUrl with
GRAFANA_LOGS_CREDENTIAL_FILE = f"{GRAFANA_SECRETS_DIR}/{GRAFANA_LOGS_CREDENTIAL}"
GRAFANA_DASHBOARDS_DIR = "/etc/grafana/dashboards"
GRAFANA_PROVISIONING_DIR = "/etc/grafana/provisioning"

# Labels KubeRay puts on every Ray pod it creates (ray-operator/controllers/ray/common/pod.go): the head's
# selectors ask for KubeRay's own label beside the node type, so a pod the user labels `ray.io/node-type:
# head` by hand is not taken for one.
KUBERAY_POD_LABELS = {"app.kubernetes.io/created-by": "kuberay-operator"}
