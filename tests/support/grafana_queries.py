"""The Prometheus requests Grafana sends to draw a dashboard, read from the dashboard's JSON.

What Grafana does, so a benchmark can send the same requests without a Grafana server:
- Step: Grafana's backend (`pkg/promlib/models/query.go`, calculatePrometheusInterval) rounds
  range / maxDataPoints (the panel's width in pixels) to a "nice" interval (`roundInterval` in
  `packages/grafana-data/src/datetime/rangeutil.ts`), never under the datasource's scrape interval (15 s
  when the datasource sets no `timeInterval`, as this project's does not) nor under range / 11,000.
- `$__rate_interval` = max(step + scrape interval, 4 x scrape interval); `$__interval` = the step;
  `$__range` = the range in seconds.
- A multi-value variable at "All" becomes its `allValue`, or `(a|b|...)` of its options without one.
- Query variables run as Grafana 10+ runs them: `label_values(selector, label)` on the label-values
  endpoint with `match[]`, `query_result(expr)` as an instant query.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PANEL_WIDTH_PX = 1600
DEFAULT_SCRAPE_S = 15  # Grafana's Prometheus datasource without `timeInterval`
MAX_POINTS = 11_000  # Grafana's safe resolution
NICE_INTERVALS_S = (  # (upper bound, rounded to), from Grafana's roundInterval, in seconds
    (0.015, 0.01), (0.035, 0.02), (0.075, 0.05), (0.15, 0.1), (0.35, 0.2), (0.75, 0.5), (1.5, 1), (3.5, 2),
    (7.5, 5), (12.5, 10), (17.5, 15), (25, 20), (45, 30), (90, 60), (210, 120), (450, 300), (750, 600),
    (1050, 900), (1500, 1200), (2700, 1800), (5400, 3600), (9000, 7200), (16200, 10800), (32400, 21600),
)
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
LABEL_VALUES = re.compile(r"^\s*label_values\((?:(.*),\s*)?(\w+)\)\s*$", re.S)
QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.S)
RELATIVE = re.compile(r"now-(\d+)([smhdw])")


@dataclass(frozen=True)
class Request:
    """One request Grafana sends: a panel's range query, or a variable's label or instant query."""

    source: str  # panel title (#target), or "variable <name>"
    kind: str  # range | instant | label_values
    expr: str  # PromQL, or for label_values the `match[]` selector ("" for none)
    label: str = ""  # label_values only
    step_s: float = 0.0  # range only


def round_interval(seconds: float) -> float:
    for bound, rounded in NICE_INTERVALS_S:
        if seconds < bound:
            return rounded
    return 86400.0


def step_seconds(range_s: float, width_px: int = PANEL_WIDTH_PX, scrape_s: float = DEFAULT_SCRAPE_S) -> float:
    return max(round_interval(range_s / width_px), scrape_s, range_s / MAX_POINTS)


def rate_interval(step_s: float, scrape_s: float = DEFAULT_SCRAPE_S) -> float:
    return max(step_s + scrape_s, 4 * scrape_s)


def default_range_seconds(dashboard: dict[str, Any]) -> float:
    match = RELATIVE.fullmatch(dashboard.get("time", {}).get("from", "now-1h"))
    if match is None:
        raise ValueError(f"dashboard {dashboard.get('uid')}: time.from is not now-<duration>")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]


def number(value: float) -> str:
    """A time or duration as Prometheus reads it: never in exponent form (f"{t:g}" would round a Unix time)."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _seconds(value: float) -> str:
    return f"{number(value)}s"


def _variable_values(dashboard: dict[str, Any], chosen: dict[str, str]) -> dict[str, str]:
    """Each template variable's text in a query: `chosen` first, then its current value or All."""
    values: dict[str, str] = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        name = variable["name"]
        if name in chosen:
            values[name] = chosen[name]
            continue
        current = variable.get("current") or {}
        value = current.get("value")
        selected = value if isinstance(value, list) else [value] if value else []
        if variable.get("includeAll") and (not selected or "$__all" in selected):
            options = [o.strip() for o in str(variable.get("query", "")).split(",")] \
                if variable.get("type") == "custom" else []
            # A query variable without allValue sends every value it found: ".*" matches as many.
            values[name] = variable.get("allValue") or (f"({'|'.join(options)})" if options else ".*")
        elif selected:
            values[name] = selected[0] if len(selected) == 1 else f"({'|'.join(selected)})"
        else:
            values[name] = ""
    return values


def expand(text: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        return values.get(name, match.group(0))

    # Twice: a variable's value may name another ($SessionName inside Instance's query).
    return VARIABLE.sub(one, VARIABLE.sub(one, text))


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(_panels(panel.get("panels", [])))
    return found


def requests(dashboard: dict[str, Any], chosen: dict[str, str], range_s: float | None = None,
             width_px: int = PANEL_WIDTH_PX) -> list[Request]:
    """Every request of one load of the dashboard (all rows expanded), variables first."""
    range_s = range_s or default_range_seconds(dashboard)
    step = step_seconds(range_s, width_px)
    values = _variable_values(dashboard, chosen)
    values |= {"__rate_interval": _seconds(rate_interval(step)), "__interval": _seconds(step),
               "__range": _seconds(range_s), "__range_s": number(range_s), "__interval_ms": number(step * 1000)}
    found = []
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query" or variable["name"] in chosen:
            continue
        query = variable.get("query")
        text = expand(query.get("query", "") if isinstance(query, dict) else str(query or ""), values)
        if (labels := LABEL_VALUES.match(text)) is not None:
            found.append(Request(f"variable {variable['name']}", "label_values", labels.group(1) or "",
                                 label=labels.group(2)))
        elif (result := QUERY_RESULT.match(text)) is not None:
            found.append(Request(f"variable {variable['name']}", "instant", result.group(1)))
    for panel in _panels(dashboard.get("panels", [])):
        panel_step = step_seconds(range_s, panel.get("maxDataPoints") or width_px)
        for index, target in enumerate(panel.get("targets", [])):
            if target.get("hide") or not target.get("expr"):
                continue
            kind = "instant" if target.get("instant") and not target.get("range") else "range"
            found.append(Request(f"{panel.get('title', '')} #{index}", kind,
                                 expand(target["expr"], values), step_s=panel_step))
    return found


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@dataclass(frozen=True)
class Answer:
    request: Request
    seconds: float
    series: int  # series (or label values) in the answer
    error: str = ""


def send(prometheus_url: str, request: Request, end: float, range_s: float, timeout: float = 120) -> Answer:
    """The request as Grafana's backend sends it, for the range [end - range_s, end]."""
    start = end - range_s
    if request.kind == "range":
        # Grafana aligns start and end to the step, so that refreshes hit the same points.
        step = request.step_s
        path = "/api/v1/query_range?" + urllib.parse.urlencode(
            {"query": request.expr, "start": number(start // step * step), "end": number(end // step * step),
             "step": number(step)})
    elif request.kind == "instant":
        path = "/api/v1/query?" + urllib.parse.urlencode({"query": request.expr, "time": number(end)})
    else:
        params = {"start": number(start), "end": number(end)} | ({"match[]": request.expr} if request.expr else {})
        path = f"/api/v1/label/{request.label}/values?" + urllib.parse.urlencode(params)
    began = time.perf_counter()
    try:
        with urllib.request.urlopen(prometheus_url + path, timeout=timeout) as reply:  # noqa: S310 (loopback)
            body = json.loads(reply.read())
    except urllib.error.HTTPError as error:
        body = json.loads(error.read() or b"{}") or {"error": str(error)}
    seconds = time.perf_counter() - began
    if body.get("status") != "success":
        return Answer(request, seconds, 0, body.get("error", "no answer"))
    data = body["data"]
    return Answer(request, seconds, len(data["result"]) if isinstance(data, dict) else len(data))
