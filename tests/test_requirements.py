"""Python requirements are pinned in the .in files (one place) and installed from the locks compiled from
them with every dependency's hashes (pip's hash-checking mode: a changed or substituted file is refused)."""

from __future__ import annotations

import re

import pytest

from support.paths import PROJECT_ROOT

LOCKS = ["requirements.txt", "requirements-dev.txt", "tests/requirements-aws.txt", "tests/requirements-checkov.txt"]
PIN = re.compile(r"^([A-Za-z0-9._-]+)(\[[^\]]*\])?==([^\s;\\]+)")


def pins(text: str) -> dict[str, str]:
    return {m[1].lower().replace("_", "-"): m[3] for line in text.splitlines() if (m := PIN.match(line.strip()))}


def entries(lock: str) -> list[str]:
    """Each requirement of a compiled lock with its continuation lines, as one string."""
    text = (PROJECT_ROOT / lock).read_text().replace("\\\n", " ")
    return [line for line in text.splitlines() if PIN.match(line)]


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_requirement_carries_its_hashes(lock):
    found = entries(lock)
    assert len(found) >= 3
    unhashed = [e.split()[0] for e in found if "--hash=sha256:" not in e]
    assert not unhashed, f"{lock}: no hash for {unhashed}"


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_is_compiled_from_its_in_file(lock):
    source = (PROJECT_ROOT / lock).with_suffix(".in")
    locked = pins((PROJECT_ROOT / lock).read_text())
    wanted = pins(source.read_text())
    for included in re.findall(r"^-r (\S+)", source.read_text(), re.M):
        wanted |= pins((source.parent / included).read_text())
    differ = {name: (version, locked.get(name)) for name, version in wanted.items() if locked.get(name) != version}
    assert not differ, f"{lock} is stale: {differ}; recompile it (docs/development.md, Versions)"
    assert f"--output-file={lock}" in (PROJECT_ROOT / lock).read_text()


def test_a_stale_lock_would_be_caught():
    assert pins("pulumi==3.1.0 \\\n    --hash=sha256:ab\n") == {"pulumi": "3.1.0"}
    assert pins("moto[server]==5.2.5\n") == {"moto": "5.2.5"}
