"""A Helm chart repository on 127.0.0.1 serving the pinned KubeRay chart, as a user's mirror would
(`kuberayChartRepository`): an index.yaml and the chart packaged as `helm package` does (a gzipped tar
with the chart's folder as its top directory), served over HTTP by a thread of the test process.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import tarfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import yaml

from support.live import LOOPBACK


def package(chart_dir: Path, out_dir: Path) -> Path:
    """`helm package`: <name>-<version>.tgz holding the chart under a folder named after it (the files
    Helm installs from: Chart.yaml, values.yaml, crds/, templates/)."""
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    archive = out_dir / f"{chart['name']}-{chart['version']}.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(chart_dir.rglob("*")):
            relative = path.relative_to(chart_dir)
            if path.is_file() and (relative.parts[0] in ("crds", "templates") or len(relative.parts) == 1
                                   and relative.name in ("Chart.yaml", "values.yaml")):
                tar.add(path, arcname=f"{chart['name']}/{relative}")
    return archive


def index(charts: list[tuple[Path, Path]], base_url: str) -> dict:
    """The repository's index.yaml (Helm's repo.IndexFile): every chart version, its URL and digest."""
    entries: dict[str, list[dict]] = {}
    for chart_dir, archive in charts:
        chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
        entries.setdefault(chart["name"], []).append({
            **chart, "urls": [f"{base_url}/{archive.name}"],
            "digest": hashlib.sha256(archive.read_bytes()).hexdigest(),
            "created": datetime.now(UTC).isoformat(),
        })
    return {"apiVersion": "v1", "entries": entries, "generated": datetime.now(UTC).isoformat()}


class _Recorded(http.server.SimpleHTTPRequestHandler):
    """Keeps each request's path on the server (`requests`) instead of logging it."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class' name)
        self.server.requests.append(self.path)  # type: ignore[attr-defined]


class HelmRepository:
    """Serves `chart_dirs` packaged, from `workdir`, until stop()."""

    def __init__(self, workdir: Path, chart_dirs: list[Path]):
        workdir.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_Recorded, directory=str(workdir))
        self.server = http.server.ThreadingHTTPServer((LOOPBACK, 0), handler)
        self.server.requests = []  # type: ignore[attr-defined]
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}"
        charts = [(chart_dir, package(chart_dir, workdir)) for chart_dir in chart_dirs]
        (workdir / "index.yaml").write_text(yaml.safe_dump(index(charts, self.url)))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[str]:
        return self.server.requests  # type: ignore[attr-defined,no-any-return]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
