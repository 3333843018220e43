"""Grafana's container as the admin-password script sees it (components/builders/grafana_admin_password.py):
its data directory, its mounted secrets, and a stand-in for the image's `grafana` binary that records its
arguments and standard input (what Grafana's CLI then does is its own)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from components.constants import GRAFANA_ADMIN_PASSWORD_FILE, GRAFANA_SECRET_KEY_FILE

STAND_IN = """#!/bin/sh
echo "$@" >> "$CALLS"
cat >> "$CALLS"
echo >> "$CALLS"
exit "${GRAFANA_EXIT:-0}"
"""


class GrafanaContainer:
    """The container's view: its data directory, mounted secrets and the stand-in CLI."""

    def __init__(self, root: Path, script: str, config: str = "/etc/grafana/grafana.ini"):
        self.root, self.data, self.calls = root, root / "data", root / "calls"
        self.data.mkdir(parents=True)
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / "grafana").write_text(STAND_IN)
        (bin_dir / "grafana").chmod(0o755)
        # The script names the mounted files by their absolute paths: run it with those paths under root.
        self.script = script.replace(GRAFANA_ADMIN_PASSWORD_FILE, str(root / "password")).replace(
            GRAFANA_SECRET_KEY_FILE, str(root / "secret-key"))
        (root / "secret-key").write_text("key-1")
        # The image's own GF_PATHS_* (its Dockerfile's ENV lines), the data directory under root.
        self.env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(self.calls),
                    "GF_PATHS_DATA": str(self.data), "GF_PATHS_HOME": "/usr/share/grafana", "GF_PATHS_CONFIG": config}

    def start(self, password: str, cli_exit: int = 0) -> subprocess.CompletedProcess[str]:
        (self.root / "password").write_text(password)
        return subprocess.run(["sh", "-c", self.script], env={**self.env, "GRAFANA_EXIT": str(cli_exit)},
                              capture_output=True, text=True, timeout=30)

    def cli_calls(self) -> str:
        return self.calls.read_text() if self.calls.exists() else ""
