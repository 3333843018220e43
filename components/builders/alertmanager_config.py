"""Alertmanager's configuration, and the `alerting` block that points Prometheus at it (no Pulumi here).

The rendered file holds the receivers' credentials, so it is deployed only as a Kubernetes Secret or,
on EC2, as an SSM SecureString the head reads at boot: never a ConfigMap, user-data or output.
Notifications are grouped per alert and Ray cluster; routes pick receivers by the rules' `severity`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import yaml

from components.constants import ALERTMANAGER_PORT

FILE_NAME = "alertmanager.yml"
GROUP_BY = ("alertname", "ray_io_cluster")
KINDS = ("slack", "pagerduty", "email", "webhook")
SEVERITIES = ("critical", "warning")
# A receiver nobody is paged through: the root route's default when every receiver filters severities.
UNROUTED = "unrouted"


@dataclass(frozen=True)
class Receiver:
    """One place notifications go. `secret` is the credential: the Slack or webhook URL, the
    PagerDuty routing key, or the SMTP password."""

    name: str
    kind: str  # one of KINDS
    secret: str
    severities: tuple[str, ...] = SEVERITIES  # which alerts it gets
    channel: str | None = None  # slack
    to: str | None = None  # email
    sender: str | None = None  # email: From
    smarthost: str | None = None  # email: host:port
    username: str | None = None  # email: SMTP user


@dataclass(frozen=True)
class Routing:
    """Timings for on-call: wait to batch a new group, then update it at most every interval, and
    repeat a still-firing alert only after repeat_interval; resolved notifications are sent too."""

    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"
    receivers: tuple[Receiver, ...] = field(default_factory=tuple)


def _receiver(r: Receiver) -> dict[str, Any]:
    common = {"send_resolved": True}
    if r.kind == "slack":
        slack = {**common, "api_url": r.secret, "title": '{{ .CommonLabels.alertname }} on '
                 '{{ .CommonLabels.ray_io_cluster }}', "text": "{{ range .Alerts }}{{ .Annotations.description }}\n"
                 "{{ end }}"}
        if r.channel:
            slack["channel"] = r.channel
        return {"name": r.name, "slack_configs": [slack]}
    if r.kind == "pagerduty":
        return {"name": r.name, "pagerduty_configs": [{**common, "routing_key": r.secret}]}
    if r.kind == "email":
        email = {**common, "to": r.to, "from": r.sender, "smarthost": r.smarthost, "require_tls": True}
        if r.username:
            email.update(auth_username=r.username, auth_password=r.secret)
        return {"name": r.name, "email_configs": [email]}
    return {"name": r.name, "webhook_configs": [{**common, "url": r.secret}]}


def config(routing: Routing) -> dict[str, Any]:
    receivers = routing.receivers
    routes = [{"receiver": r.name, "matchers": [f'severity=~"{"|".join(r.severities)}"'], "continue": True}
              for r in receivers]
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": UNROUTED,
            "group_by": list(GROUP_BY),
            "group_wait": routing.group_wait,
            "group_interval": routing.group_interval,
            "repeat_interval": routing.repeat_interval,
            "routes": routes,
        },
        # A page and a ticket for the same problem: the ticket is dropped while the page fires.
        "inhibit_rules": [{"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
                           "equal": ["alertname", "ray_io_cluster"]}],
        "receivers": [{"name": UNROUTED}, *[_receiver(r) for r in receivers]],
    }


def render(routing: Routing) -> str:
    return yaml.safe_dump(config(routing), sort_keys=False, width=1000)


def alerting_block(url: str) -> dict[str, Any]:
    """Prometheus' `alerting` section for an Alertmanager at `url` (http(s)://host:port[/prefix])."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else ALERTMANAGER_PORT)
    target: dict[str, Any] = {"scheme": parsed.scheme, "static_configs": [{"targets": [f"{parsed.hostname}:{port}"]}]}
    if parsed.path not in ("", "/"):
        target["path_prefix"] = parsed.path.rstrip("/")
    return {"alertmanagers": [target]}
