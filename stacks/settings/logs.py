"""The log pipeline's settings: whether the nodes ship Ray's logs, where to (the Loki the stack deploys, or
the user's own at `logsUrl`), and how long the deployed Loki keeps them."""

from __future__ import annotations

from dataclasses import dataclass

from components.builders.grafana_provisioning import LogsSource
from components.builders.remote_write import StoreAuth, authorization_header
from stacks.settings.reader import Reader
from stacks.settings.remote_store import (
    CREDENTIAL,
    Credentialed,
    grafana_credential,
    must_be_secret,
    store_auth,
    store_url,
)

LOGS_URL_EXAMPLE = "https://logs-prod-006.grafana.net"
# The collector's exporter sends static headers; Loki itself takes no SigV4 (a gateway in front of it would).
LOGS_AUTH_KINDS = ("none", "basic", "bearer")
DEPLOYED_LOKI_KEYS = ("logsRetention", "lokiStorage", "lokiStorageSize", "lokiStorageClass")


@dataclass(frozen=True)
class LogsSettings:
    enabled: bool
    retention: str  # the deployed Loki's retention_period
    store: Credentialed | None = None  # the user's Loki (logsUrl) and how the collectors write there
    query: Credentialed | None = None  # how Grafana reads it (logsQueryAuth, else the collectors' own)

    @property
    def deploys_loki(self) -> bool:
        return self.enabled and self.store is None

    def otlp_url(self, loki_url: str | None) -> str:
        """Where the collectors send: the user's Loki's OTLP endpoint, or that of ours at `loki_url`."""
        base = self.store.url if self.store else loki_url
        assert base is not None, "without logsUrl the logs go to the Loki the stack deploys"
        return f"{base}/otlp"

    def grafana_source(self, loki_url: str | None) -> LogsSource:
        """The Loki Grafana reads: the user's with Grafana's credential, or ours at `loki_url`."""
        if self.query:
            return LogsSource(self.query.url, self.query.auth)
        assert loki_url is not None, "without logsUrl Grafana reads the Loki the stack deploys"
        return LogsSource(loki_url)

    @property
    def store_authorization(self) -> str | None:
        """The Authorization header the collectors send to the user's Loki, when it wants one."""
        return authorization_header(self.store.auth, self.store.secret) if self.store else None


def read_logs(reader: Reader, unavailable: str | None = None, default: bool = True) -> LogsSettings:
    """`unavailable`: why this stack cannot ship logs (the user's Grafana shows the dashboards), or None.
    Unset, `logs` is `default` wherever it is available."""
    retention = reader.text("logsRetention")
    enabled = reader.flag("logs")
    if reader.value("logs") is None:
        enabled = default and unavailable is None
    elif enabled and unavailable is not None:
        reader.problem("logs", True, f"is not offered here yet: {unavailable}",
                       "pulumi config rm logs (docs/logs.md says where logs are shipped)")
        enabled = False
    store, query = _users_store(reader, enabled)
    return LogsSettings(enabled=enabled, retention=retention, store=store, query=query)


def _users_store(reader: Reader, enabled: bool) -> tuple[Credentialed | None, Credentialed | None]:
    url = reader.optional_text("logsUrl")
    auth_keys = [key for key in ("logsAuth", "logsQueryAuth") if reader.structured(key) is not None]
    if url is None:
        for key in auth_keys:
            reader.problem(key, "<hidden>", "is how the log pipeline authenticates to logsUrl, which is not set",
                           f"pulumi config set logsUrl {LOGS_URL_EXAMPLE}, or pulumi config rm {key}")
        return None, None
    if not enabled:
        reader.problem("logsUrl", url, "names where Ray's logs go, and logs is off",
                       "pulumi config rm logsUrl, or pulumi config set logs true")
        return None, None
    for key in DEPLOYED_LOKI_KEYS:  # a platform's own (the loki* ones are Kubernetes'): unset elsewhere
        if reader.value(key) is not None and not reader.is_default(key, reader.value(key)):
            reader.problem(key, reader.value(key), "is for the Loki the stack deploys, and with logsUrl it deploys "
                           "none (your store keeps logs as it is configured)", f"pulumi config rm {key}")
    checked = store_url(reader, "logsUrl", url, "logsUrl", LOGS_URL_EXAMPLE, "logsAuth")
    write = _auth(reader, "logsAuth", grafana="logsQueryAuth" not in auth_keys)
    read = _auth(reader, "logsQueryAuth", grafana=True) if "logsQueryAuth" in auth_keys else write
    if checked is None or write is None or read is None:
        return None, None
    return Credentialed(checked, *write), Credentialed(checked, *read)


def _auth(reader: Reader, key: str, *, grafana: bool) -> tuple[StoreAuth, str | None] | None:
    """(auth, credential) from `key`; None after a problem. `grafana`: Grafana reads this credential too."""
    auth = store_auth(reader, key, reader.structured(key), key)
    if auth is None:
        return None
    kind, credential = auth[0].kind, auth[1]
    if kind not in LOGS_AUTH_KINDS:
        reader.problem(key, f"{key}.type = {kind!r}", "must be one of none, basic, bearer: the collectors send "
                       "static headers, and Loki takes no SigV4", f"pulumi config set --path '{key}.type' bearer")
        return None
    if credential is not None:
        where = f"{key}.{CREDENTIAL[kind]}"
        if any(ord(c) < 32 or ord(c) == 127 for c in credential):
            # The collectors send it in a header, read verbatim from a file.
            reader.problem(key, f"<{where}, hidden>", "contains a control character (a newline, a tab, ...)",
                           f"pulumi config set --secret --path '{where}' VALUE (one line)")
            return None
        if not (grafana_credential(reader, key, where, credential) if grafana else must_be_secret(reader, key, where)):
            return None
    return auth
