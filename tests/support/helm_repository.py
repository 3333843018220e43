"""A Helm chart repository on 127.0.0.1, as a user's mirror is (`kuberayChartRepository`): the chart packaged
and indexed by the real `helm` (`helm package`, `helm repo index`, built from its module: support/go_tools.py),
served over HTTP by a thread of the test process, which records each request's path."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path

from support.go_tools import build
from support.live import LOOPBACK


class _Recorded(http.server.SimpleHTTPRequestHandler):
    """Keeps each request's path on the server (`requests`) instead of logging it."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class' name)
        self.server.requests.append(self.path)  # type: ignore[attr-defined]


def helm(workdir: Path, *args: str) -> str:
    # Helm's own state (repositories, cache) in `workdir`, not the user's.
    env = {**os.environ, **{f"HELM_{kind}_HOME": str(workdir / "helm" / kind.lower())
                            for kind in ("CACHE", "CONFIG", "DATA")}}
    result = subprocess.run([str(build("helm")), *args], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, f"helm {' '.join(args)}: {result.stderr}"
    return result.stdout


class HelmRepository:
    """Serves the chart made of `files` (path in the chart -> file) from `workdir`, until stop()."""

    def __init__(self, workdir: Path, name: str, files: dict[str, Path]):
        source, served = workdir / "source" / name, workdir / "repository"
        for relative, path in files.items():
            (source / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, source / relative)
        served.mkdir(parents=True)
        handler = functools.partial(_Recorded, directory=str(served))
        self.server = http.server.ThreadingHTTPServer((LOOPBACK, 0), handler)
        self.server.requests = []  # type: ignore[attr-defined]
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}"
        helm(workdir, "package", str(source), "--destination", str(served))
        helm(workdir, "repo", "index", str(served), "--url", self.url)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[str]:
        return self.server.requests  # type: ignore[attr-defined,no-any-return]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
