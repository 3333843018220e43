"""The sums in a PromQL query that a recording rule can precompute (no Pulumi here).

Only one shape is recognised, and only where it is unambiguous: `sum` or `avg`, grouped `by (...)` before or
after, over one plain selector `metric{matchers}`, optionally multiplied or divided by numbers inside
(`sum(x{...} * 1024) by (a)`). Anything else, a function around the selector, a range, `offset`, two selectors,
a grouping or label name that is a dashboard variable, is left as written: the caller reports it. A sum of
per-group sums is the sum (and an average is a sum over a count), so these are the aggregations whose answer a
rule can hold without changing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''
_MATCHER = re.compile(rf"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*({_STRING})\s*")
_GROUPING = r"\s*by\s*\(\s*([A-Za-z0-9_,\s$]*?)\s*\)\s*"
_SELECTOR = rf"([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{{((?:[^{{}}\"']|{_STRING})*)\}})?"
_SCALAR_OPS = r"((?:\s*[*/]\s*[0-9]+(?:\.[0-9]+)?)*)"
# `sum by (a) (x{...})` or `sum(x{...}) by (a)` or `sum(x{...})`; the selector must end at the `)`.
_AGGREGATION = re.compile(
    rf"(?<![A-Za-z0-9_:])(sum|avg)(?:{_GROUPING})?\s*\(\s*{_SELECTOR}{_SCALAR_OPS}\s*\)(?:{_GROUPING})?")


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str  # as written, quotes included

    def render(self) -> str:
        return f"{self.label}{self.op}{self.value}"

    @property
    def variable(self) -> str | None:
        """The dashboard variable the matcher's whole value is (`"$Instance"` -> Instance), if it is one."""
        found = re.fullmatch(r"""["']\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?["']""", self.value)
        return found.group(1) if found else None


@dataclass(frozen=True)
class Aggregation:
    """One `sum`/`avg` over a plain selector, and where it sits in the query."""

    start: int
    end: int
    op: str  # sum or avg
    by: tuple[str, ...]
    metric: str
    matchers: tuple[Matcher, ...]
    scalar_ops: str  # " * 1024 * 1024", or ""

    def labels(self) -> set[str]:
        """The labels the answer depends on: the grouping and every matched label."""
        return set(self.by) | {m.label for m in self.matchers}


class Unparsed(ValueError):
    """A selector's matchers this module does not read (it then leaves the query alone)."""


def _matchers(text: str) -> tuple[Matcher, ...]:
    found, position = [], 0
    text = text.strip().rstrip(",")
    while position < len(text):
        match = _MATCHER.match(text, position)
        if not match:
            raise Unparsed(text)
        found.append(Matcher(*match.groups()))
        position = match.end()
        if position < len(text):
            if text[position] != ",":
                raise Unparsed(text)
            position += 1
    return tuple(found)


def _grouping(text: str | None) -> tuple[str, ...] | None:
    """The grouping's labels; None if a label is a variable (its labels are unknown until Grafana sends it)."""
    if not text:
        return ()
    labels = tuple(x.strip() for x in text.split(",") if x.strip())
    return None if any("$" in x for x in labels) else labels


def aggregations(expr: str) -> tuple[list[Aggregation], list[tuple[str, str]]]:
    """The precomputable sums of `expr`, and (text, why) for each other `sum`/`avg` of this shape."""
    found: list[Aggregation] = []
    skipped: list[tuple[str, str]] = []
    for match in _AGGREGATION.finditer(expr):
        op, before, metric, matcher_text, scalar_ops, after = match.groups()
        if before is not None and after is not None:
            skipped.append((match.group(0), "grouped twice"))
            continue
        by = _grouping(before if before is not None else after)
        if by is None:
            skipped.append((match.group(0), "its grouping is a dashboard variable"))
            continue
        if re.match(r"\s*(\[|offset\b|@|without\b)", expr[match.end():]):
            skipped.append((match.group(0), "a range, offset or `without` follows it"))
            continue
        try:
            matchers = _matchers(matcher_text or "")
        except Unparsed:
            skipped.append((match.group(0), "matchers not read here"))
            continue
        found.append(Aggregation(match.start(), match.end(), op, by, metric, matchers, scalar_ops or ""))
    return found, skipped


def selector(name: str, matchers: list[str]) -> str:
    """`{__name__="name", ...}`: the form that also takes a second `__name__` matcher."""
    return "{" + ", ".join([f'__name__="{name}"', *matchers]) + "}"


def aggregate(op: str, by: tuple[str, ...], inner: str) -> str:
    return f"{op} by ({', '.join(by)}) ({inner})" if by else f"{op}({inner})"
