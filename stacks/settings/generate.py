"""Writes what is generated from the settings tables: `Pulumi.yaml`'s config block, the tables of settings and
presets in docs/configuration.md, and docs/aws.md's table of what a changed setting does (stacks/settings/changes.py).
`python -m stacks.settings.generate` rewrites them; `--check` only says whether they are current (tests
run the same comparison)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from stacks.settings.changes import CHANGES
from stacks.settings.presets import PRESET_KEYS, PRESETS
from stacks.settings.table import SETTINGS, Setting

ROOT = Path(__file__).resolve().parents[2]
PULUMI_YAML = ROOT / "Pulumi.yaml"
CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
AWS_DOC = ROOT / "docs" / "aws.md"
CHANGES_BEGIN = "<!-- generated from stacks/settings/changes.py by `python -m stacks.settings.generate` -->"
CHANGES_END = "<!-- end of the generated changes -->"
PULUMI_MARKER = "# Generated from stacks/settings/table.py"
DOC_BEGIN = "<!-- generated from stacks/settings/table.py by `python -m stacks.settings.generate` -->"
DOC_END = "<!-- end of the generated settings -->"
PRESETS_BEGIN = "<!-- generated from stacks/settings/presets.py by `python -m stacks.settings.generate` -->"
PRESETS_END = "<!-- end of the generated presets -->"
YAML_TYPES = {"integer": "integer", "boolean": "boolean", "list": "array"}


def _platforms(row: Setting) -> str:
    return "both" if len(row.platforms) > 1 else row.platforms[0]


def pulumi_config_block() -> str:
    """The part of Pulumi.yaml from the marker on: every key with a default, declared, except those a preset
    sets (the CLI would pass the declared default as the stack's value, hiding the preset's); the others
    listed. Other providers' keys (aws:region) get a project-wide value, which a stack's own overrides."""
    undeclared = [row for row in SETTINGS if row.default is None or row.key in PRESET_KEYS]
    lines = [
        f"{PULUMI_MARKER} by `python -m stacks.settings.generate`: edit the table, not",
        "# this block. A stack's settings come from its own file (stacks/Pulumi.<stack>.yaml, yours, not tracked),",
        "# else its preset (stacks/settings/presets.py: minikube, kind, aws), else these defaults; settings of the",
        "# other platform are ignored while they keep them. docs/configuration.md explains every key.",
        "# Settings declared here without a default, or set by a preset:",
    ]
    lines += [f"#   {row.key:<24} {_platforms(row)}: {_plain(_default_and_presets(row))}" for row in undeclared]
    lines.append("config:")
    for row in SETTINGS:
        if row in undeclared:
            continue
        if ":" in row.key:
            lines.append(f"  {row.key}: {{value: {json.dumps(row.default)}}}")
            continue
        declared: dict[str, Any] = {"type": YAML_TYPES.get(row.kind, "string")}
        if row.kind == "list":
            declared["items"] = {"type": "string"}
        declared.update(default=row.default, description=_plain(row.doc))
        body = ", ".join(f"{name}: {json.dumps(value)}" for name, value in declared.items())
        lines.append(f"  {row.key}: {{{body}}}")
    return "\n".join(lines) + "\n"


def _default_and_presets(row: Setting) -> str:
    """The default, then what each preset that sets the key sets it to."""
    by_preset = [f"{preset.name}: {_value(preset.values[row.key])}" for preset in PRESETS.values()
                 if row.key in preset.values]
    return _default(row) + (f" ({', '.join(by_preset)})" if by_preset else "")


def _plain(doc: str) -> str:
    return doc.replace("`", "")


def configuration_table() -> str:
    """The docs' table, one section per concern."""
    lines = [DOC_BEGIN]
    section = None
    for row in SETTINGS:
        if row.section != section:
            section = row.section
            lines += ["", f"### {section}", "", "| key | platform | default | meaning |", "|---|---|---|---|"]
        lines.append(f"| `{row.key}` | {_platforms(row)} | {_default_and_presets(row)} | {_meaning(row)} |")
    lines += ["", DOC_END]
    return "\n".join(lines)


def _default(row: Setting) -> str:
    return (row.unset or "none") if row.default is None else _value(row.default)


def _value(value: Any) -> str:
    return f"`{json.dumps(value) if isinstance(value, (bool, list)) else value}`"


def presets_table() -> str:
    """docs/configuration.md's table of the shipped stacks: what each sets beneath the stack's own file."""
    lines = [PRESETS_BEGIN, "", "| stack | platform | for | sets |", "|---|---|---|---|"]
    for preset in PRESETS.values():
        sets = ", ".join(f"`{key}`: {_value(value)}" for key, value in preset.values.items()) or "nothing"
        lines.append(f"| `{preset.name}` | {preset.platform} | {preset.doc} | {sets} |")
    lines += ["", PRESETS_END]
    return "\n".join(lines)


def _meaning(row: Setting) -> str:
    notes = []
    if row.choices:
        notes.append("one of " + ", ".join(f"`{c}`" for c in row.choices))
    if row.kind == "integer":
        notes.append(f"{row.low} to {row.high}")
    if row.minimum:
        notes.append(f"at least `{row.minimum}`")
    if row.secret:
        notes.append("a Pulumi secret (`--secret`)")
    return row.doc + (f" ({'; '.join(notes)})" if notes else "")


def changes_table() -> str:
    """docs/aws.md's table of what a later `pulumi up` does when one setting changes."""
    lines = [CHANGES_BEGIN, "", "| setting | what the next `pulumi up` does | details |", "|---|---|---|"]
    for change in CHANGES:
        lines.append(f"| `{change.key}` | {', '.join(change.effects)} | {change.note} |")
        lines += [f"| `{change.key}`, {when} | {', '.join(effects)} | |" for when, effects in change.cases]
    lines += ["", CHANGES_END]
    return "\n".join(lines)


def aws_doc(current: str) -> str:
    """`current` with the text between the change markers replaced by the generated table."""
    return (current[:current.index(CHANGES_BEGIN)] + changes_table()
            + current[current.index(CHANGES_END) + len(CHANGES_END):])


def pulumi_yaml(current: str) -> str:
    """`current` with everything from the marker on replaced by the generated block."""
    return current[:current.index(PULUMI_MARKER)] + pulumi_config_block()


def configuration_doc(current: str) -> str:
    """`current` with the text between each pair of markers replaced by its generated table."""
    for begin, end, table in ((DOC_BEGIN, DOC_END, configuration_table()), (PRESETS_BEGIN, PRESETS_END,
                                                                             presets_table())):
        current = current[:current.index(begin)] + table + current[current.index(end) + len(end):]
    return current


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated text is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, generate in ((PULUMI_YAML, pulumi_yaml), (CONFIGURATION_DOC, configuration_doc), (AWS_DOC, aws_doc)):
        current = path.read_text()
        wanted = generate(current)
        if wanted != current:
            stale.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.write_text(wanted)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run python -m stacks.settings.generate", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
