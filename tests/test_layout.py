"""The layout's one rule: imports run one way. Stacks import components; components never import
stacks; builders (plain data in, file text out) never import Pulumi or a component."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support.paths import PROJECT_ROOT

COMPONENTS = PROJECT_ROOT / "components"
BUILDERS = COMPONENTS / "builders"


def imported_modules(path: Path, text: str | None = None) -> set[str]:
    """Every module a file imports, at any depth (function-level imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if text is None else text, str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def violations(path: Path, text: str | None = None) -> list[str]:
    """What is wrong with the imports of `path` (or of `text` standing at that path)."""
    modules = imported_modules(path, text)
    top = {m.split(".")[0] for m in modules}
    found = []
    if "stacks" in top:
        found.append("a component imports stacks")
    if path.is_relative_to(BUILDERS):
        if {"pulumi", "pulumi_kubernetes", "pulumi_aws", "pulumi_random"} & top:
            found.append("a builder imports pulumi")
        if any(m.startswith(("components.kubernetes", "components.aws")) for m in modules):
            found.append("a builder imports a component")
    return found


def component_modules() -> list[Path]:
    return sorted(COMPONENTS.rglob("*.py"))


def test_the_layout_has_its_three_kinds():
    assert {p.name for p in COMPONENTS.iterdir() if p.is_dir() and p.name != "__pycache__"} == {
        "aws", "builders", "kubernetes"}
    assert len(list(BUILDERS.glob("*.py"))) > 5


@pytest.mark.parametrize("path", component_modules(), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_imports_run_one_way(path):
    assert violations(path) == [], f"{path.relative_to(PROJECT_ROOT)}: {violations(path)}"


def test_the_check_catches_each_wrong_arrow():
    cases = {
        COMPONENTS / "kubernetes" / "prometheus.py": ("def f():\n    from stacks.settings import load\n",
                                                     "a component imports stacks"),
        BUILDERS / "sizing.py": ("import pulumi\n", "a builder imports pulumi"),
        BUILDERS / "compose.py": ("from components.aws import ray_node\n", "a builder imports a component"),
    }
    for path, (line, expected) in cases.items():
        assert expected in violations(path, path.read_text() + line)


def test_tests_import_helpers_from_support_never_from_conftest():
    """conftest files hold fixtures; helpers are in tests/support/, imported by name."""
    tests = PROJECT_ROOT / "tests"
    offenders = sorted(str(path.relative_to(PROJECT_ROOT)) for path in tests.rglob("*.py")
                       if "node-tools" not in path.parts
                       and {"conftest", "harness"} & {m.split(".")[0] for m in imported_modules(path)})
    assert offenders == []
    assert "conftest" in imported_modules(tests / "x.py", "def f():\n    from conftest import run\n")


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / "stacks").rglob("*.py")), ids=lambda p: p.name)
def test_stack_functions_fit_a_screen(path):
    """The stacks compose; what takes longer belongs in a component or a builder."""
    long = [f"{node.name}: {node.end_lineno - node.lineno + 1} lines" for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 60]
    assert long == []
