"""The README is a front page: it starts with the two commands, stays short and links every page of
docs/; every relative link in the README and docs/ reaches a file and, with an anchor, a heading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.paths import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
DOCS = sorted((PROJECT_ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def headings(path: Path) -> set[str]:
    """GitHub's anchors for a page's headings (code blocks skipped)."""
    anchors, code = set(), False
    for line in path.read_text().splitlines():
        code = code != line.startswith("```")
        if not code and re.match(r"^#{1,6} ", line):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in LINK.findall(path.read_text()):
        if re.match(r"^[a-z]+:", target):
            continue  # a web address
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no file")
        elif anchor and linked.suffix == ".md" and anchor not in headings(linked):
            broken.append(f"{target}: no heading #{anchor}")
    return broken


def test_the_readme_is_a_front_page():
    text = README.read_text()
    first_block = text.split("```")[1]
    assert "pulumi up --stack minikube" in first_block and "bash tests/run" in first_block
    assert len(text.splitlines()) <= 160
    for page in DOCS:
        assert f"docs/{page.name}" in text, f"the README does not lead to docs/{page.name}"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_every_link_reaches_its_target(path):
    assert broken_links(path) == []


def test_the_link_check_catches_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [gone](other.md) [no heading](#nowhere)\n")
    assert broken_links(page) == ["other.md: no file", "#nowhere: no heading #nowhere"]


@pytest.mark.parametrize("stack,doc", [("kubernetes", "docs/kubernetes.md"), ("aws", "docs/aws.md")])
def test_every_stack_output_is_documented(stack, doc):
    exported = set(re.findall(r'pulumi\.export\("(\w+)"', (PROJECT_ROOT / "stacks" / f"{stack}.py").read_text()))
    text = (PROJECT_ROOT / doc).read_text()
    assert len(exported) >= 10
    assert {name for name in exported if f"`{name}`" not in text} == set()
