"""Typed, validated settings for each stack, read once from Pulumi config.

Every key is checked before any resource exists; all problems are reported together, each
naming the key, the bad value and the fix. Components never read config: they get these.
  table.py       every setting once: key, kind, default, platforms, check, doc
  presets.py     the shipped stacks' settings, beneath each stack's own
  formats.py     the patterns and quantity parsers the rows and checks share
  reader.py      the reader that checks values by their rows, and its one error format
  shared.py      what both platforms read the same way (alerting.py, remote_store.py beside it)
  kubernetes.py  aws.py   each platform's own settings (existing_clusters.py: patch and operator modes)
  generate.py    Pulumi.yaml's config block and docs/configuration.md's table, from the table
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, Mapping

from stacks.settings.aws import AwsSettings, read_aws
from stacks.settings.kubernetes import KubernetesSettings, read_kubernetes
from stacks.settings.presets import PRESET_KEYS, PRESETS, Preset
from stacks.settings.reader import PROJECT, ConfigError, Reader, describe_problem, same_value
from stacks.settings.shared import MonitoringSettings
from stacks.settings.table import rows

__all__ = ["AwsSettings", "ConfigError", "KubernetesSettings", "MonitoringSettings", "PROJECT", "Settings",
           "defaults", "describe_problem", "load"]

Settings = KubernetesSettings | AwsSettings


PLATFORMS: dict[str, Callable[[Reader], Settings]] = {"kubernetes": read_kubernetes, "aws": read_aws}


def load(stack: str, config: Mapping[str, Any],
         is_secret: Callable[[str], bool] = lambda key: False) -> Settings:
    """Settings for `stack` from every config value it has (`project:key` -> value) over its preset's
    (presets.py); `is_secret` tells which keys the CLI passed as secrets."""
    preset = _preset(stack, config)

    def full(key: str) -> str:
        return key if ":" in key else f"{PROJECT}:{key}"

    def get(key: str) -> Any:
        if full(key) not in config:
            return preset.values.get(key) if preset else None
        # An empty value drops a preset's (any preset's key: the fix the errors give works on every stack).
        return None if config[full(key)] == "" and key in PRESET_KEYS else config[full(key)]

    def from_preset(key: str) -> bool:
        return preset is not None and key in preset.values and full(key) not in config

    reader = Reader(get, is_secret=is_secret, from_preset=from_preset)
    reader.optional_text("preset")
    platform = reader.optional_text("platform") or (preset.platform if preset else None)
    if platform is None:
        raise ConfigError(reader.problems or [
            describe_problem("platform", None, f"is not set, and stack {stack!r} names no preset",
                             f"pulumi config set platform kubernetes (or aws), or pulumi config set preset "
                             f"{' / '.join(PRESETS)}")])
    settings = PLATFORMS[platform](reader)
    _reject_unknown_keys(reader, platform, config)
    if reader.problems:
        raise ConfigError(reader.problems)
    return settings


def _preset(stack: str, config: Mapping[str, Any]) -> Preset | None:
    """The preset the stack names (`preset`), else the one named like the stack; a misspelt `preset` is
    reported by the reader."""
    chosen = config.get(f"{PROJECT}:preset")
    return PRESETS.get(str(chosen)) if chosen is not None else PRESETS.get(stack)


def defaults(platform: str) -> dict[str, Any]:
    """Every key the platform reads, with its default (None: unset unless configured)."""
    return {row.key: row.default for row in rows(platform)}


def _reject_unknown_keys(reader: Reader, platform: str, config: Mapping[str, Any]) -> None:
    known = defaults(platform)
    others = {key: default for other in PLATFORMS if other != platform for key, default in defaults(other).items()}
    for full_key in sorted(config):
        if not full_key.startswith(f"{PROJECT}:"):
            continue
        key = full_key.split(":", 1)[1]
        if key in known:
            continue
        if key in others:
            # Pulumi.yaml declares every key's default for every stack: only a changed value is a mistake.
            if not same_value(config[full_key], others[key]):
                reader.problem(key, config[full_key], f"does not apply to platform {platform}",
                               f"pulumi config rm {key}")
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        reader.problem(key, config[full_key], "is not a setting of this project",
                       f"{hint}see docs/configuration.md, or pulumi config rm {key}")
