"""Where alerts go (both platforms): Alertmanager receivers, or an Alertmanager the user already runs.

Receivers carry credentials, so `alertReceivers` must be a Pulumi secret
(`pulumi config set --secret --path 'alertReceivers[0].url' ...`); errors never repeat its values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from components.builders.alert_rules import ALERT_NAMES
from components.builders.alertmanager_config import KINDS, SEVERITIES, Receiver, Routing
from stacks.settings.formats import DNS_LABEL
from stacks.settings.reader import Reader

# Fields of each receiver kind, besides name, type and severities; the first is its credential.
FIELDS = {
    "slack": ("url", "channel"),
    "pagerduty": ("routingKey",),
    "email": ("password", "to", "from", "smarthost", "username"),
    "webhook": ("url",),
}
REQUIRED = {"slack": ("url",), "pagerduty": ("routingKey",), "email": ("to", "from", "smarthost"),
            "webhook": ("url",)}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")


@dataclass(frozen=True)
class AlertingSettings:
    routing: Routing  # receivers empty: no Alertmanager of ours
    external_url: str | None  # an Alertmanager the user runs

    @property
    def deploys_alertmanager(self) -> bool:
        return bool(self.routing.receivers)


def _hidden(index: int, field: str) -> str:
    return f"<alertReceivers[{index}].{field}, hidden>"


def _receiver(reader: Reader, index: int, raw: Any) -> Receiver | None:
    where = f"alertReceivers[{index}]"
    path_fix = f"pulumi config set --secret --path '{where}.FIELD' VALUE"
    if not isinstance(raw, dict):
        reader.problem("alertReceivers", where, "each receiver must be an object with name and type", path_fix)
        return None
    kind = raw.get("type")
    if kind not in KINDS:
        reader.problem("alertReceivers", f"{where}.type = {kind!r}", f"must be one of {', '.join(KINDS)}",
                       f"pulumi config set --path '{where}.type' slack")
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not DNS_LABEL.match(name):
        reader.problem("alertReceivers", f"{where}.name = {name!r}",
                       "must be lowercase letters, digits and '-'", f"pulumi config set --path '{where}.name' oncall")
        return None
    unknown = sorted(set(raw) - {"name", "type", "severities", *FIELDS[kind]})
    missing = [f for f in REQUIRED[kind] if not raw.get(f)]
    if kind == "email" and raw.get("username") and not raw.get("password"):
        missing.append("password")
    if unknown or missing:
        reader.problem("alertReceivers", f"{where} ({kind})",
                       f"unknown fields {unknown}; missing fields {missing}; a {kind} receiver takes "
                       f"{', '.join(FIELDS[kind])}", path_fix.replace("FIELD", (missing or unknown)[0]))
        return None
    severities = raw.get("severities", list(SEVERITIES))
    if not isinstance(severities, list) or not severities or not set(severities) <= set(SEVERITIES):
        reader.problem("alertReceivers", f"{where}.severities = {severities!r}",
                       f"must be a non-empty list of {', '.join(SEVERITIES)}",
                       f"pulumi config set --path '{where}.severities[0]' critical")
        return None
    secret_field = FIELDS[kind][0]
    secret = str(raw.get(secret_field) or "")
    if secret_field == "url":
        parsed = urlparse(secret)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            reader.problem("alertReceivers", _hidden(index, "url"), "must be an http(s) URL",
                           path_fix.replace("FIELD", "url"))
            return None
    if kind == "email":
        bad = [f for f in ("to", "from") if not _EMAIL.match(str(raw[f]))]
        if not _HOST_PORT.match(str(raw["smarthost"])):
            bad.append("smarthost")
        if bad:
            reader.problem("alertReceivers", f"{where} ({', '.join(bad)})",
                           "to and from must be email addresses, smarthost host:port",
                           path_fix.replace("FIELD", bad[0]))
            return None
    return Receiver(name=name, kind=kind, secret=secret, severities=tuple(severities), channel=raw.get("channel"),
                    to=raw.get("to"), sender=raw.get("from"), smarthost=raw.get("smarthost"),
                    username=raw.get("username"))


def _receivers(reader: Reader) -> tuple[Receiver, ...]:
    raw = reader.structured("alertReceivers")
    if raw in (None, []):
        return ()
    if not isinstance(raw, list):
        reader.problem("alertReceivers", "<hidden>", "must be a list of receivers",
                       "pulumi config set --secret --path 'alertReceivers[0].url' URL")
        return ()
    if not reader.secret("alertReceivers"):
        # The values are credentials: never repeat them, not even in this message.
        reader.problem("alertReceivers", f"<{len(raw)} receiver(s), hidden>",
                       "holds credentials but is not a Pulumi secret",
                       "set each credential with --secret, e.g. pulumi config set --secret --path "
                       "'alertReceivers[0].url' URL (pulumi config rm alertReceivers first)")
        return ()
    receivers = [r for i, item in enumerate(raw) if (r := _receiver(reader, i, item)) is not None]
    names = [r.name for r in receivers]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        reader.problem("alertReceivers", f"name {dup!r}", "names must be unique", "rename one of them")
    return tuple(receivers)


def severity_overrides(reader: Reader) -> tuple[tuple[str, str], ...]:
    """`alertSeverity`: alert name -> critical | warning, over each rule's own severity."""
    raw = reader.structured("alertSeverity")
    if raw in (None, {}):
        return ()
    if not isinstance(raw, dict):
        reader.problem("alertSeverity", raw, "must map alert names to critical or warning",
                       "pulumi config set --path 'alertSeverity.RayObjectStoreFull' critical")
        return ()
    good = []
    for name, severity in raw.items():
        if name not in ALERT_NAMES or severity not in SEVERITIES:
            reader.problem("alertSeverity", {name: severity},
                           f"alert names are {', '.join(ALERT_NAMES)}; severities {', '.join(SEVERITIES)}",
                           f"pulumi config set --path 'alertSeverity.{ALERT_NAMES[0]}' critical")
            continue
        good.append((name, severity))
    return tuple(good)


def read_alerting(reader: Reader) -> AlertingSettings:
    receivers = _receivers(reader)
    external = reader.optional_text("externalAlertmanagerUrl")
    if receivers and external:
        reader.problem("externalAlertmanagerUrl", external, "cannot be combined with alertReceivers: our "
                       "Alertmanager would be bypassed", "use one: pulumi config rm externalAlertmanagerUrl, or "
                       "pulumi config rm alertReceivers")
    routing = Routing(
        group_wait=reader.text("alertGroupWait"),
        group_interval=reader.text("alertGroupInterval"),
        repeat_interval=reader.text("alertRepeatInterval"),
        receivers=receivers,
    )
    return AlertingSettings(routing=routing, external_url=external)
