"""The log pipeline's settings: whether the nodes ship Ray's logs, and how long the store keeps them."""

from __future__ import annotations

from dataclasses import dataclass

from stacks.settings.reader import Reader


@dataclass(frozen=True)
class LogsSettings:
    enabled: bool
    retention: str  # Loki's retention_period


def read_logs(reader: Reader) -> LogsSettings:
    return LogsSettings(enabled=reader.flag("logs"), retention=reader.text("logsRetention"))
