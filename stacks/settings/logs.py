"""The log pipeline's settings: whether the nodes ship Ray's logs, and how long the store keeps them."""

from __future__ import annotations

from dataclasses import dataclass

from stacks.settings.reader import Reader


@dataclass(frozen=True)
class LogsSettings:
    enabled: bool
    retention: str  # Loki's retention_period


def read_logs(reader: Reader, unavailable: str | None = None) -> LogsSettings:
    """`unavailable`: why this stack cannot ship logs (it does not create the Ray nodes' pods, or the user's
    Grafana shows the dashboards), or None. Unset, `logs` is on wherever it is available."""
    retention = reader.text("logsRetention")
    enabled = reader.flag("logs")
    if reader.value("logs") is None:
        return LogsSettings(enabled=unavailable is None, retention=retention)
    if enabled and unavailable is not None:
        reader.problem("logs", True, f"is not offered here yet: {unavailable}",
                       "pulumi config rm logs (docs/logs.md says where logs are shipped)")
        enabled = False
    return LogsSettings(enabled=enabled, retention=retention)
