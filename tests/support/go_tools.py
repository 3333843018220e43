"""The control plane's real parts, built from their Go modules at pinned versions (tests/control_plane/).

Each binary is built once into a cache keyed by its version (RAY_MONITORING_GO_TOOLS, else
~/.cache/ray-monitoring/go-tools/<name>-<version>/) and reused; `python -m support.go_tools` builds what is
missing (tests/run calls it). Module downloads come from the Go module proxy the machine is configured for.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

GO_VERSION_LINE = "go 1.24.0"  # the building module's; every pinned module builds with Go 1.26 too


@dataclass(frozen=True)
class GoTool:
    name: str  # the binary's name
    module: str  # the Go module that holds it, at `version`
    version: str
    package: str  # its main package
    # k8s.io/kubernetes asks for its staging modules (k8s.io/api, ...) at v0.0.0 and replaces them with
    # ./staging/..., which Go ignores outside the module: the building module replaces each with this.
    staging_version: str = ""


# Pins (docs/development.md, "Versions"): bump a version here; the next `tests/run` builds it.
TOOLS = {tool.name: tool for tool in (
    GoTool("kube-apiserver", "k8s.io/kubernetes", "v1.34.4", "k8s.io/kubernetes/cmd/kube-apiserver",
           staging_version="v0.34.4"),
    GoTool("etcd", "go.etcd.io/etcd/server/v3", "v3.6.16", "go.etcd.io/etcd/server/v3"),
    GoTool("prometheus-operator", "github.com/prometheus-operator/prometheus-operator", "v0.93.0",
           "github.com/prometheus-operator/prometheus-operator/cmd/operator"),
)}


def cache_dir() -> Path:
    return Path(os.environ.get("RAY_MONITORING_GO_TOOLS") or Path.home() / ".cache" / "ray-monitoring" / "go-tools")


def binary(name: str) -> Path:
    tool = TOOLS[name]
    return cache_dir() / f"{tool.name}-{tool.version}" / tool.name


def module_dir(name: str) -> Path:
    """The pinned module's files in Go's module cache (CRDs and examples ship inside it)."""
    tool = TOOLS[name]
    found = subprocess.run(["go", "mod", "download", "-json", f"{tool.module}@{tool.version}"], capture_output=True,
                           text=True, timeout=900, check=True)
    return Path(re.search(r'"Dir":\s*"([^"]+)"', found.stdout).group(1))  # type: ignore[union-attr]


def _staging_replaces(tool: GoTool) -> list[str]:
    downloaded = subprocess.run(["go", "mod", "download", "-json", f"{tool.module}@{tool.version}"],
                                capture_output=True, text=True, timeout=900, check=True)
    go_mod = Path(re.search(r'"GoMod":\s*"([^"]+)"', downloaded.stdout).group(1))  # type: ignore[union-attr]
    staged = re.findall(r"^\s*(\S+) => \./staging/", go_mod.read_text(), re.M)
    return [f"replace {module} => {module} {tool.staging_version}" for module in staged]


def build(name: str) -> Path:
    """The tool's binary, built now unless the cache has it."""
    tool, target = TOOLS[name], binary(name)
    if target.exists():
        return target
    with tempfile.TemporaryDirectory(prefix=f"build-{name}-") as work:
        lines = ["module build", "", GO_VERSION_LINE, "", f"require {tool.module} {tool.version}", ""]
        if tool.staging_version:
            lines += _staging_replaces(tool)
        Path(work, "go.mod").write_text("\n".join(lines) + "\n")
        env = {**os.environ, "GOFLAGS": "-mod=mod"}
        for command in (["go", "get", f"{tool.package}@{tool.version}"],
                        ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(Path(work, name)), tool.package]):
            result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=3600)
            if result.returncode != 0:
                raise RuntimeError(f"building {name} {tool.version} ({' '.join(command)}) failed:\n"
                                   f"{result.stderr[-3000:]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copy2(Path(work, name), partial)
        partial.rename(target)  # a build that stops half way leaves no binary behind
    return target


def main() -> int:
    if shutil.which("go") is None:
        print("the control-plane tier needs Go (go1.24 or newer) to build its tools", file=sys.stderr)
        return 1
    for name in TOOLS:
        cached = binary(name).exists()
        print(f"{name} {TOOLS[name].version}: {'cached' if cached else 'building ...'}", flush=True)
        build(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
