"""Reading Pulumi config: one reader that parses and checks each key, and the one format every
problem is stated in (key, value, why, fix). All problems are collected and reported together,
before any resource exists."""

from __future__ import annotations

import json
import re
from typing import Any, Callable
from urllib.parse import urlparse

import pulumi

from components.builders.sizing import bytes_of, seconds

PROJECT = "ray-monitoring"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DURATION = re.compile(r"^(?=\d)((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
MEMORY = re.compile(r"^[1-9]\d*(Ki|Mi|Gi|Ti)$")
# Below this Prometheus (55 MiB idle, measured) or Grafana is killed for memory while starting.
MIN_MEMORY_LIMIT = "128Mi"
MEMORY_FLOOR_WHY = "Prometheus and Grafana are killed for memory while starting with less"


class ConfigError(pulumi.RunError):
    """Raised with every config problem at once, before any resource is registered. A RunError,
    so `pulumi up` and `pulumi preview` print the message alone, without a Python traceback."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration ({len(problems)} problem(s)):\n{lines}")


def describe_problem(key: str, value: Any, why: str, fix: str) -> str:
    """One bad setting, as every config error and warning states it: key, value, why, fix."""
    full = key if ":" in key else f"{PROJECT}:{key}"
    return f"{full} = {value!r}: {why}. Fix: {fix}"


class Reader:
    """Reads keys through `get`, parsing and checking each, collecting every problem."""

    def __init__(self, get: Callable[[str], Any], is_secret: Callable[[str], bool] = lambda key: False):
        self._get = get
        self._is_secret = is_secret
        self.problems: list[str] = []
        self.defaults: dict[str, Any] = {}  # every key read, with its default

    def problem(self, key: str, value: Any, why: str, fix: str) -> None:
        self.problems.append(describe_problem(key, value, why, fix))

    def _raw(self, key: str, default: Any) -> Any:
        self.defaults[key] = default
        return self._get(key)

    def value(self, key: str) -> Any:
        """The raw configured value (None when unset)."""
        return self._get(key)

    def is_default(self, key: str, value: Any) -> bool:
        """Whether `value` is the default recorded when `key` was read (Pulumi.yaml passes defaults)."""
        return same_value(value, self.defaults[key])

    def string(self, key: str, default: str | None, pattern: re.Pattern | None = None,
               why: str = "", example: str = "") -> str | None:
        value = self._raw(key, default)
        if value is None:
            return default
        value = str(value)
        if value == "" or (pattern is not None and not pattern.match(value)):
            self.problem(key, value, why or "must not be empty", f"pulumi config set {key} {example}")
            return default
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self._raw(key, default)
        if value is None:
            return default
        if value not in choices:
            self.problem(key, value, f"must be one of {', '.join(choices)}",
                         f"pulumi config set {key} {default}")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._raw(key, default)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        self.problem(key, value, "must be true or false", f"pulumi config set {key} {str(default).lower()}")
        return default

    def integer(self, key: str, default: int | None, low: int, high: int, example: int) -> int | None:
        value = self._raw(key, default)
        if value is None:
            return default
        try:
            number = int(str(value))
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            self.problem(key, value, f"must be a whole number from {low} to {high}",
                         f"pulumi config set {key} {example}")
            return default
        return number

    def secret(self, key: str) -> bool:
        """Whether the CLI passed `key` as a Pulumi secret (pulumi config set --secret)."""
        return self._is_secret(key if ":" in key else f"{PROJECT}:{key}")

    def structured(self, key: str, default: Any) -> Any:
        """A list or object (the CLI passes it as JSON text); None on a problem. The value is never
        repeated in the message: it may hold credentials."""
        value = self._raw(key, default)
        if value is None:
            return default
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                self.problem(key, "<hidden>", "is not a list or object",
                             f"pulumi config set --path '{key}[0].FIELD' VALUE")
                return None
        return value

    def string_list(self, key: str) -> list[str] | None:
        raw = value = self._raw(key, [])
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(key, raw, "must be a list of strings",
                         f"pulumi config set --path '{key}[0]' VALUE")
            return None
        return value


def same_value(value: Any, default: Any) -> bool:
    """A configured value against a default, as the CLI passes values (text; lists as JSON)."""
    if isinstance(value, str) and value[:1] in "[{":
        value = json.loads(value)
    return str(value).lower() == str(default).lower()


def duration(reader: Reader, key: str, default: str, minimum: str | None = None, because: str = "") -> str:
    """A Prometheus duration; with `minimum`, shorter values (0s included) are refused, `because` says why."""
    value = reader.string(key, default, DURATION,
                          "must be a Prometheus duration such as 30s, 10m, 6h or 15d", default)
    if minimum is not None and seconds(value) < seconds(minimum):
        reader.problem(key, value, f"must be at least {minimum}: {because}", f"pulumi config set {key} {default}")
        return default
    return value


def at_least(reader: Reader, key: str, value: str, minimum: str, because: str, example: str) -> str | None:
    """`value` (a size or memory quantity already read) if it is at least `minimum`; else a problem."""
    if bytes_of(value) < bytes_of(minimum):
        reader.problem(key, value, f"must be at least {minimum}: {because}", f"pulumi config set {key} {example}")
        return None
    return value


def url(reader: Reader, key: str, why: str, example: str, path_allowed: bool = True) -> str | None:
    """An http(s) URL without query or fragment (and without a path unless `path_allowed`), with no
    trailing slash; `why` says what it must be."""
    value = reader.string(key, None)
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query or parsed.fragment \
            or (not path_allowed and parsed.path not in ("", "/")):
        reader.problem(key, value, why, f"pulumi config set {key} {example}")
        return None
    return value.rstrip("/")
