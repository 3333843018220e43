"""One place for each setting: the table. The reader reads exactly its rows, and the texts generated
from it (Pulumi.yaml's config block, docs/configuration.md's table) are current."""

from __future__ import annotations

import pytest
import yaml

from stacks.settings import PLATFORMS, defaults
from stacks.settings.generate import configuration_doc, main, pulumi_config_block, pulumi_yaml
from stacks.settings.presets import PRESET_KEYS
from stacks.settings.reader import Reader
from stacks.settings.table import SETTINGS
from support.paths import PROJECT_ROOT


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_each_platform_reads_exactly_its_rows(platform):
    reader = Reader(lambda key: None)
    PLATFORMS[platform](reader)
    assert reader.read_keys | {"platform", "preset"} == set(defaults(platform))


def test_a_key_without_a_row_cannot_be_read():
    with pytest.raises(KeyError):
        Reader(lambda key: None).text("scrapeIntervall")


def test_keys_are_unique_and_documented():
    keys = [row.key for row in SETTINGS]
    assert len(keys) == len(set(keys))
    assert all(row.doc and row.section for row in SETTINGS)
    assert all(row.default is not None or row.unset for row in SETTINGS), "say what an unset key means"


def test_pulumi_yaml_is_generated_from_the_table():
    text = (PROJECT_ROOT / "Pulumi.yaml").read_text()
    assert text == pulumi_yaml(text), "Pulumi.yaml is stale: run python -m stacks.settings.generate"
    declared = yaml.safe_load(text)["config"]
    for row in SETTINGS:
        if row.default is None or row.key in PRESET_KEYS:
            # Declared without a default, the CLI would require the key; with one, it would pass the default as
            # the stack's value and hide the preset's.
            assert row.key not in declared and f"#   {row.key} " in pulumi_config_block()
        elif ":" in row.key:
            assert declared[row.key] == {"value": row.default}, "another provider's key takes a project-wide value"
        else:
            assert declared[row.key]["default"] == row.default, row.key


def test_the_docs_table_is_generated_from_the_table():
    text = (PROJECT_ROOT / "docs" / "configuration.md").read_text()
    assert text == configuration_doc(text), "docs/configuration.md is stale: run python -m stacks.settings.generate"
    for row in SETTINGS:
        assert f"| `{row.key}` |" in text


def test_the_check_notices_a_stale_text(tmp_path, monkeypatch):
    from stacks.settings import generate

    stale = tmp_path / "Pulumi.yaml"
    stale.write_text((PROJECT_ROOT / "Pulumi.yaml").read_text().replace('default: "5s"', 'default: "10s"'))
    doc = tmp_path / "configuration.md"
    doc.write_text((PROJECT_ROOT / "docs" / "configuration.md").read_text())
    monkeypatch.setattr(generate, "ROOT", tmp_path)
    monkeypatch.setattr(generate, "PULUMI_YAML", stale)
    monkeypatch.setattr(generate, "CONFIGURATION_DOC", doc)
    aws_doc = tmp_path / "aws.md"
    aws_doc.write_text((PROJECT_ROOT / "docs" / "aws.md").read_text().replace("| `retainData` | nothing |", "| x |"))
    monkeypatch.setattr(generate, "AWS_DOC", aws_doc)
    assert main(["--check"]) == 1
    assert main([]) == 0 and main(["--check"]) == 0
    assert 'default: "5s"' in stale.read_text() and "| `retainData` | nothing |" in aws_doc.read_text()
