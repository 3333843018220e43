"""Every pinned version in one place. Bump here; docs/development.md says how."""

# Ray: the dashboards in dashboards/ray/, the rayproject/ray image the aws stack runs and the
# `ray` package the tests install are all this version (tests/dashboards/test_regenerate.py holds them together).
RAY_VERSION = "2.60.0"
RAY_IMAGE = f"rayproject/ray:{RAY_VERSION}"
RAY_ARM64_IMAGE = f"rayproject/ray:{RAY_VERSION}-aarch64"  # rayproject/ray:<version> is amd64 only
RAY_GPU_IMAGE = f"rayproject/ray:{RAY_VERSION}-gpu"  # the aws stack's default on GPU instance types

# KubeRay: the operator chart the minikube stack installs (installKubeRay) and the CRDs and samples
# the tests validate against (tests/upstream-files.json) are this version.
KUBERAY_VERSION = "1.7.0"
KUBERAY_CHART = "kuberay-operator"
KUBERAY_CHART_REPOSITORY = "https://ray-project.github.io/kuberay-helm/"

PROMETHEUS_IMAGE = "prom/prometheus:v3.13.2"
GRAFANA_IMAGE = "grafana/grafana:12.5.0"
NODE_EXPORTER_IMAGE = "prom/node-exporter:v1.10.2"
ALERTMANAGER_IMAGE = "prom/alertmanager:v0.29.0"
# Logs (docs/logs.md): the collector on every Ray node (the contrib distribution: its file_log receiver and
# file storage) and the log store. The tests build the collector's components at this version from their Go
# modules; Loki is AGPL-licensed and not built here: its configuration is checked against its documented schema.
OTEL_COLLECTOR_IMAGE = "otel/opentelemetry-collector-contrib:0.165.0"
LOKI_IMAGE = "grafana/loki:3.7.8"
NGINX_IMAGE = "nginx:1.28.0-alpine"  # terminates TLS for Grafana on EC2 (grafanaTlsCertificate)

# Ubuntu 24.04 LTS (Noble) from Canonical, found by AMI lookup on the aws stack.
UBUNTU_AMI_OWNER = "099720109477"
UBUNTU_AMI_NAME = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"
# GPU instance types: AWS's Deep Learning Base AMI on Ubuntu 24.04, with the NVIDIA driver, Docker CE,
# Compose and the NVIDIA container toolkit (plain Ubuntu has none of them).
GPU_AMI_OWNER = "amazon"
GPU_AMI_NAME = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) *"
