"""The formats settings are written in, each once: patterns, and parsers for quantities that are
compared (durations, CPU, memory and sizes)."""

from __future__ import annotations

import re

from components.builders.sizing import bytes_of, seconds

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DURATION = re.compile(r"^(?=\d)((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
MEMORY = re.compile(r"^[1-9]\d*(Ki|Mi|Gi|Ti)$")
CPU = re.compile(r"^(\d+m|\d+(\.\d{1,3})?)$")
RETENTION_SIZE = re.compile(r"^[1-9]\d*(B|KB|MB|GB|TB|PB|EB)$")
# An image reference: [registry/]repository[:tag][@digest].
IMAGE = re.compile(r"^[a-z0-9]+([._/:-][a-z0-9]+)*(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$")
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
RAY_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
DATASOURCE_NAME = re.compile(r"^[\w .-]{1,100}$")
VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
AMI_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")
KEY_PAIR = re.compile(r"^[\x20-\x7e]{1,255}$")
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")

NAME_WHY = "must be a Kubernetes name: lowercase letters, digits and '-', at most 63"


def millicores(quantity: str) -> float:
    """A Kubernetes CPU quantity (`250m`, `1.5`) in millicores."""
    return float(quantity[:-1]) if quantity.endswith("m") else float(quantity) * 1000


# How each comparable kind of value is measured, for minimums and cross-checks.
MAGNITUDE = {"duration": seconds, "cpu": millicores, "memory": bytes_of, "size": bytes_of}

# PEM blocks (the TLS certificate and key for Grafana on EC2).
PEM_CERTIFICATE = re.compile(r"^\s*(-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----\s*)+$")
PEM_KEY = re.compile(r"^\s*-----BEGIN ([A-Z]+ )?PRIVATE KEY-----[A-Za-z0-9+/=\s]+"
                     r"-----END ([A-Z]+ )?PRIVATE KEY-----\s*$")
