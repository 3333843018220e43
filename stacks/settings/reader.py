"""Reading Pulumi config: one reader that parses and checks each key by its row in the settings table,
and the one format every problem is stated in (key, value, why, fix). All problems are collected and
reported together, before any resource exists."""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import urlparse

import pulumi

from stacks.settings.formats import MAGNITUDE
from stacks.settings.table import BY_KEY, Setting

PROJECT = "ray-monitoring"


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


def same_value(value: Any, default: Any) -> bool:
    """A configured value against a default, as the CLI passes values (text; lists as JSON)."""
    if isinstance(value, str) and value[:1] in "[{":
        value = json.loads(value)
    return str(value).lower() == str(default).lower()


class Reader:
    """Reads keys through `get`, parsing and checking each by its row, collecting every problem.
    A key without a row is a programming error (KeyError), never a silent read."""

    def __init__(self, get: Callable[[str], Any], *, is_secret: Callable[[str], bool] = lambda key: False,
                 from_preset: Callable[[str], bool] = lambda key: False):
        self._get = get
        self._is_secret = is_secret
        self.from_preset = from_preset  # whether a key's value is its preset's, not set by the stack
        self.problems: list[str] = []
        self.read_keys: set[str] = set()

    def problem(self, key: str, value: Any, why: str, fix: str) -> None:
        self.problems.append(describe_problem(key, value, why, fix))

    def has_problem(self, key: str) -> bool:
        full = key if ":" in key else f"{PROJECT}:{key}"
        return any(p.startswith(f"{full} ") for p in self.problems)

    def value(self, key: str) -> Any:
        """The raw configured value (None when unset)."""
        return self._get(BY_KEY[key].key)

    def is_default(self, key: str, value: Any) -> bool:
        """Whether `value` is one the stack did not choose: the key's default (Pulumi.yaml passes defaults as
        values) or its preset's. Checks across keys refuse only what the stack chose."""
        return self.from_preset(key) or same_value(value, BY_KEY[key].default)

    def secret(self, key: str) -> bool:
        """Whether the CLI passed `key` as a Pulumi secret (pulumi config set --secret)."""
        return self._is_secret(key if ":" in key else f"{PROJECT}:{key}")

    # Typed reads: each returns the row's default when the key is unset or its value is refused.

    def text(self, key: str, *, computed: str | None = None) -> str:
        """A text key: configured, else its default, else `computed` (a key the table leaves to the sizing)."""
        value = self.optional_text(key) or computed
        assert value is not None, f"{key} has no default: read it with optional_text, or give it computed"
        return value

    def optional_text(self, key: str) -> str | None:
        row, raw = self._row(key, "string", "choice", "duration", "cpu", "memory", "size", "url")
        if raw is None:
            return row.default_text
        value = str(raw)
        if row.single_line and any(ord(c) < 32 or ord(c) == 127 for c in value):
            # A newline in a value that reaches a file line by line (.env on the aws head) would add a line.
            self.problem(key, "<hidden>" if row.secret else value, "contains a control character (a newline, a "
                         "tab, ...)", f"pulumi config set {'--secret ' if row.secret else ''}{key} "
                         f"{row.fix_value or 'VALUE'} (one line)")
            return row.default_text
        if row.kind == "choice":
            return self._choice(row, value)
        if row.kind == "url":
            return self._url(row, value)
        pattern, why = row.check()
        if value == "" or (pattern is not None and not pattern.match(value)):
            # A secret is never repeated; a long value (a PEM block) only by its start.
            shown = "<hidden>" if row.secret else value if len(value) <= 80 else f"{value[:40]}..."
            self.problem(key, shown, why, f"pulumi config set {'--secret ' if row.secret else ''}{key} {row.fix_value}")
            return row.default_text
        return self._at_least(row, value)

    def flag(self, key: str) -> bool:
        row, raw = self._row(key, "boolean")
        if raw is None:
            return bool(row.default)
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "false"):
            return str(raw).lower() == "true"
        self.problem(key, raw, "must be true or false", f"pulumi config set {key} {row.fix_value}")
        return bool(row.default)

    def number(self, key: str) -> int:
        value = self.optional_number(key)
        assert value is not None, f"{key} has no default: read it with optional_number"
        return value

    def optional_number(self, key: str) -> int | None:
        row, raw = self._row(key, "integer")
        if raw is None:
            return row.default_number
        try:
            number: int | None = int(str(raw))
        except ValueError:
            number = None
        if number is None or not row.low <= number <= row.high:
            self.problem(key, raw, f"must be a whole number from {row.low} to {row.high}",
                         f"pulumi config set {key} {row.fix_value}")
            return row.default_number
        return number

    def strings(self, key: str) -> list[str] | None:
        """A list of strings; None after a problem."""
        row, raw = self._row(key, "list")
        if raw is None:
            return list(row.default)
        value = raw
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(key, raw, "must be a list of strings", f"pulumi config set --path '{key}[0]' VALUE")
            return None
        return value

    def structured(self, key: str) -> Any:
        """A list or object (the CLI passes it as JSON text); None when unset or on a problem. The
        value is never repeated in the message: it may hold credentials."""
        _, raw = self._row(key, "object")
        if isinstance(raw, str):
            try:
                return json.loads(raw)
            except ValueError:
                self.problem(key, "<hidden>", "is not a list or object",
                             f"pulumi config set --path '{key}[0].FIELD' VALUE")
                return None
        return raw

    def _row(self, key: str, *kinds: str) -> tuple[Setting, Any]:
        row = BY_KEY[key]
        assert row.kind in kinds, f"{key} is a {row.kind}, not one of {kinds}"
        self.read_keys.add(key)
        return row, self._get(key)

    def _choice(self, row: Setting, value: str) -> str | None:
        if value in row.choices:
            return value
        self.problem(row.key, value, f"must be one of {', '.join(row.choices)}",
                     f"pulumi config set {row.key} {row.fix_value or row.choices[0]}")
        return row.default_text

    def _url(self, row: Setting, value: str) -> str | None:
        """An http(s) URL without query or fragment (and without a path unless the row allows one),
        with no trailing slash."""
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query or parsed.fragment \
                or (not row.path_allowed and parsed.path not in ("", "/")):
            self.problem(row.key, value, row.why, f"pulumi config set {row.key} {row.example or row.fix_value}")
            return row.default_text
        return value.rstrip("/")

    def _at_least(self, row: Setting, value: str) -> str | None:
        if row.minimum is None:
            return value
        measure = MAGNITUDE[row.kind]
        if measure(value) < measure(row.minimum):
            self.problem(row.key, value, f"must be at least {row.minimum}: {row.because}",
                         f"pulumi config set {row.key} {row.fix_value}")
            return row.default_text
        return value
