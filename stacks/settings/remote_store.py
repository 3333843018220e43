"""Stores beyond one Prometheus (both platforms): `remoteWrite`, `prometheusAgent`, `grafanaQueryUrl`.

Passwords and tokens are credentials: a key holding one must be a Pulumi secret
(`pulumi config set --secret --path 'remoteWrite[0].auth.password' ...`), and errors never repeat them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from components.builders.remote_write import (
    AUTH_KINDS,
    RemoteWriteTarget,
    StoreAuth,
    ray_prometheus_headers,
    secret_file,
)
from stacks.settings.formats import REGION
from stacks.settings.reader import Reader

# Fields of each auth type besides `type`; the credential among them is a Pulumi secret.
AUTH_FIELDS = {"none": (), "basic": ("username", "password"), "bearer": ("token",), "sigv4": ("region",)}
CREDENTIAL = {"basic": "password", "bearer": "token"}
OPTIONAL_FIELDS = {"sigv4": ("roleArn",)}  # a role to assume for a store the node's own role may not reach
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
# Ray's dashboard sends static headers only (RAY_PROMETHEUS_HEADERS): it cannot sign SigV4.
RAY_CAN_QUERY = ("none", "basic", "bearer")
SIGV4_WHY = ("Ray's dashboard sends only static headers (RAY_PROMETHEUS_HEADERS) and cannot sign SigV4 "
             "requests, so in agent mode it could not query the store")
SIGV4_FIX = ("keep a local Prometheus for the Ray Dashboard (pulumi config set prometheusAgent false; a short "
             "retentionTime such as 1d is enough) and let Grafana read the store through grafanaQueryUrl")


@dataclass(frozen=True)
class Credentialed:
    """A store endpoint with its auth; `secret` is the password or token (None: the auth needs none)."""

    url: str
    auth: StoreAuth
    secret: str | None = None


@dataclass(frozen=True)
class RemoteStoreSettings:
    writes: tuple[Credentialed, ...] = ()  # every remote_write target, in order
    agent: bool = False  # Prometheus in agent mode: Grafana and the Ray head query `query`
    query: Credentialed | None = None  # where Grafana (and in agent mode Ray) query; None: our Prometheus

    @property
    def targets(self) -> tuple[RemoteWriteTarget, ...]:
        return tuple(RemoteWriteTarget(w.url, w.auth) for w in self.writes)

    @property
    def write_credentials(self) -> dict[str, str]:
        """File name Prometheus reads (remote_write.secret_file) -> password or token, per target."""
        return {file: w.secret for i, w in enumerate(self.writes)
                if w.secret is not None and (file := secret_file(i, w.auth)) is not None}

    @property
    def query_signs_sigv4(self) -> bool:
        """Grafana signs its queries to the store with its AWS identity."""
        return bool(self.query and self.query.auth.kind == "sigv4")

    @property
    def ray_query(self) -> Credentialed | None:
        """Where the Ray heads query instead of our Prometheus: the store, in agent mode."""
        return self.query if self.agent else None

    @property
    def ray_query_headers(self) -> str | None:
        """RAY_PROMETHEUS_HEADERS (JSON) when the Ray heads query a store that wants a credential."""
        query = self.ray_query
        return ray_prometheus_headers(query.auth, query.secret) if query and query.secret is not None else None


def store_url(reader: Reader, key: str, value: Any, where: str, example: str, auth_where: str) -> str | None:
    parsed = urlparse(value) if isinstance(value, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.fragment:
        reader.problem(key, f"{where} = {value!r}", "must be an http(s) URL",
                       f"pulumi config set --path '{where}' {example}")
        return None
    if parsed.username or parsed.password:
        # Credentials in a URL end up in prometheus.yml, logs and outputs.
        reader.problem(key, f"{where} (hidden)", "must not carry credentials in the URL",
                       f"put them in auth: pulumi config set --secret --path '{auth_where}.password' VALUE "
                       f"(with {auth_where}.type basic and .username)")
        return None
    return str(value).rstrip("/")


def store_auth(reader: Reader, key: str, raw: Any, where: str) -> tuple[StoreAuth, str | None] | None:
    """(auth, credential) from an `auth` object; None after a problem. Omitted: no auth."""
    if raw is None:
        return StoreAuth("none"), None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind not in AUTH_KINDS:
        reader.problem(key, f"{where}.type = {kind!r}", f"must be one of {', '.join(AUTH_KINDS)}",
                       f"pulumi config set --path '{where}.type' bearer")
        return None
    unknown = sorted(set(raw) - {"type", *AUTH_FIELDS[kind], *OPTIONAL_FIELDS.get(kind, ())})
    missing = [f for f in AUTH_FIELDS[kind] if not raw.get(f)]
    if unknown or missing:
        field = (missing or unknown)[0]
        secret = "--secret " if field in CREDENTIAL.values() else ""
        reader.problem(key, f"{where} ({kind})", f"unknown fields {unknown}; missing fields {missing}; {kind} auth "
                       f"takes {', '.join(AUTH_FIELDS[kind]) or 'nothing else'}",
                       f"pulumi config set {secret}--path '{where}.{field}' VALUE"
                       if missing else f"pulumi config rm --path '{where}.{field}'")
        return None
    region = raw.get("region")
    if kind == "sigv4" and not REGION.match(str(region)):
        reader.problem(key, f"{where}.region = {region!r}", "must be an AWS region such as us-west-2",
                       f"pulumi config set --path '{where}.region' us-west-2")
        return None
    role_arn = raw.get("roleArn")
    if role_arn is not None and not ROLE_ARN.match(str(role_arn)):
        reader.problem(key, f"{where}.roleArn = {role_arn!r}", "must be an IAM role ARN",
                       f"pulumi config set --path '{where}.roleArn' arn:aws:iam::123456789012:role/ray-metrics-writer")
        return None
    credential = raw.get(CREDENTIAL.get(kind, ""))
    return StoreAuth(kind, username=raw.get("username"), region=region, role_arn=role_arn), \
        (str(credential) if credential is not None else None)


def must_be_secret(reader: Reader, key: str, where: str) -> bool:
    if reader.secret(key):
        return True
    reader.problem(key, f"<{where}, hidden>", "holds a password or token but is not a Pulumi secret",
                   f"pulumi config rm {key}, then set the credential with --secret, e.g. pulumi config set "
                   f"--secret --path '{where}' VALUE")
    return False


def _writes(reader: Reader) -> tuple[Credentialed, ...]:
    key = "remoteWrite"
    raw = reader.structured(key)
    if raw in (None, []):
        return ()
    if not isinstance(raw, list):
        reader.problem(key, "<hidden>", "must be a list of {url, auth}",
                       f"pulumi config set --path '{key}[0].url' https://mimir.example.com/api/v1/push")
        return ()
    writes = []
    for index, item in enumerate(raw):
        where = f"{key}[{index}]"
        if not isinstance(item, dict) or set(item) - {"url", "auth"}:
            reader.problem(key, f"{where} (hidden)", "each entry must be an object with url and auth only",
                           f"pulumi config set --path '{where}.url' https://mimir.example.com/api/v1/push")
            continue
        target_url = store_url(reader, key, item.get("url"), f"{where}.url", "https://mimir.example.com/api/v1/push",
                                f"{where}.auth")
        auth = store_auth(reader, key, item.get("auth"), f"{where}.auth")
        if target_url is None or auth is None:
            continue
        if auth[1] is not None and not must_be_secret(reader, key, f"{where}.auth.{CREDENTIAL[auth[0].kind]}"):
            return ()
        writes.append(Credentialed(target_url, *auth))
    urls = [w.url for w in writes]
    for dup in sorted({u for u in urls if urls.count(u) > 1}):
        reader.problem(key, dup, "is listed twice: every sample would be sent twice", "remove one entry")
    return tuple(writes)


def _query(reader: Reader) -> Credentialed | None:
    query_url = reader.optional_text("grafanaQueryUrl")
    raw_auth = reader.structured("grafanaQueryAuth")
    if query_url is None:
        if raw_auth is not None:
            reader.problem("grafanaQueryAuth", "<hidden>", "is how Grafana queries grafanaQueryUrl, which is not set",
                           "pulumi config set grafanaQueryUrl https://mimir.example.com/prometheus, or pulumi "
                           "config rm grafanaQueryAuth")
        return None
    checked = store_url(reader, "grafanaQueryUrl", query_url, "grafanaQueryUrl", "https://mimir.example.com/prometheus",
                         "grafanaQueryAuth")
    auth = store_auth(reader, "grafanaQueryAuth", raw_auth, "grafanaQueryAuth")
    if checked is None or auth is None:
        return None
    if auth[1] is not None:
        if not grafana_credential(reader, "grafanaQueryAuth", f"grafanaQueryAuth.{CREDENTIAL[auth[0].kind]}", auth[1]):
            return None
    return Credentialed(checked, *auth)


def grafana_credential(reader: Reader, key: str, where: str, credential: str) -> bool:
    """Whether a credential Grafana's provisioning reads is a secret it can read as given."""
    if not must_be_secret(reader, key, where):
        return False
    if "$" in credential:
        # Grafana's provisioning expands $NAME in every value, the credential read from its file included.
        reader.problem(key, f"<{where}, hidden>", "contains '$', which Grafana's provisioning would expand as a "
                       "variable", "use a credential without '$' (most stores issue tokens without one)")
        return False
    return True


def read_remote_store(reader: Reader, *, managed_store: bool = False) -> RemoteStoreSettings:
    """`managed_store`: the platform writes to a store of its own as well (aws managedPrometheus)."""
    writes = _writes(reader)
    agent = reader.flag("prometheusAgent")
    query = _query(reader)
    if query and not (writes or managed_store):
        reader.problem("grafanaQueryUrl", query.url, "Grafana would read a store this stack writes nothing to",
                       "add the store's write endpoint: pulumi config set --path 'remoteWrite[0].url' URL")
    if agent:
        if not (writes or managed_store):
            reader.problem("prometheusAgent", True, "forwards every sample to remoteWrite, and remoteWrite is empty",
                           "pulumi config set --path 'remoteWrite[0].url' URL, or pulumi config set "
                           "prometheusAgent false")
        if query is None:
            reader.problem("prometheusAgent", True, "keeps no data to query: Grafana and the Ray Dashboard need "
                           "the store's query endpoint", "pulumi config set grafanaQueryUrl "
                           "https://mimir.example.com/prometheus")
        elif query.auth.kind not in RAY_CAN_QUERY:
            reader.problem("grafanaQueryAuth", f"type {query.auth.kind}", f"cannot serve agent mode: {SIGV4_WHY}",
                           SIGV4_FIX)
    return RemoteStoreSettings(writes=writes, agent=agent, query=query)
