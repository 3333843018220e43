"""What every dashboard the project builds shares (no Pulumi here): read-only, shared crosshair, refreshed
every 30 s, the last hour in the browser's time zone."""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 41


def dashboard_json(uid: str, title: str, description: str, tags: list[str], variables: list[dict[str, Any]],
                   panels: list[dict[str, Any]], links: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": tags,
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": "now-1h", "to": "now"},
        "timezone": "browser",
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": links or [],
        "panels": panels,
    }
