"""Upstream files the tests validate against (KubeRay's CRDs, samples and chart values; the Prometheus
Operator's CRDs), obtained one way and never committed.

- `UPSTREAM_DIR` set: the files are read from that directory (laid out as schemas/, fixtures/, charts/).
- Otherwise each file is downloaded at its pinned tag into `.upstream-cache/` (gitignored).
Either way every file is checked against the sha256 in tests/upstream-files.json.

`python tests/support/upstream.py` (run by tests/run before pytest) prints the directory that holds every file,
or one message naming what is missing and both ways to provide it, and exits 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MANIFEST = ROOT / "tests" / "upstream-files.json"
CACHE = ROOT / ".upstream-cache"
DOWNLOAD_TIMEOUT = 30  # seconds per file


@dataclass(frozen=True)
class UpstreamFile:
    path: str  # relative to the upstream directory, e.g. schemas/ray.io_rayclusters.v1.7.0.yaml
    url: str  # the file in its repository at the pinned tag
    sha256: str


class UpstreamError(Exception):
    """A file is missing or differs from its pinned checksum; the message says how to provide it."""


def manifest(path: Path = MANIFEST) -> list[UpstreamFile]:
    return [UpstreamFile(**entry) for entry in json.loads(path.read_text())["files"]]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _how_to_provide(file: UpstreamFile) -> str:
    return (f"Provide it one of two ways: set UPSTREAM_DIR to a directory holding {file.path} "
            f"(a copy of the project's shared upstream files), or let tests/run download it "
            f"from {file.url} (needs network access)")


def check(directory: Path, files: list[UpstreamFile]) -> None:
    """Every file present in `directory` with its pinned checksum."""
    for file in files:
        path = directory / file.path
        if not path.is_file():
            raise UpstreamError(f"{file.path} is missing from UPSTREAM_DIR={directory}. {_how_to_provide(file)}")
        if _digest(path) != file.sha256:
            raise UpstreamError(f"{path} does not match its pinned sha256 {file.sha256} "
                                f"(tests/upstream-files.json): it is not the upstream file at the pinned tag")


def download(files: list[UpstreamFile], cache: Path = CACHE, timeout: float = DOWNLOAD_TIMEOUT) -> Path:
    """Each file not already cached with the right checksum, downloaded and checked before it is kept."""
    for file in files:
        target = cache / file.path
        if target.is_file() and _digest(target) == file.sha256:
            continue
        try:
            with urllib.request.urlopen(file.url, timeout=timeout) as response:  # noqa: S310 (pinned https URLs)
                content = response.read()
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise UpstreamError(f"{file.path} could not be downloaded from {file.url} ({reason}). "
                                f"{_how_to_provide(file)}") from error
        if hashlib.sha256(content).hexdigest() != file.sha256:
            raise UpstreamError(f"{file.url} does not match its pinned sha256 {file.sha256}: nothing was kept. "
                                f"The tag may have moved; check the file and update tests/upstream-files.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written whole or not at all: a half-written file never passes for a cached one.
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
            partial.write(content)
        Path(partial.name).replace(target)
    return cache


def resolve(files: list[UpstreamFile] | None = None, environ: dict | None = None, cache: Path = CACHE) -> Path:
    """The directory holding every upstream file: UPSTREAM_DIR when set, else the download cache."""
    files = manifest() if files is None else files
    environ = os.environ if environ is None else environ
    if environ.get("UPSTREAM_DIR"):
        directory = Path(environ["UPSTREAM_DIR"]).resolve()
        check(directory, files)
        return directory
    return download(files, cache)


def upstream_file(relative: str) -> Path:
    """An upstream file (tests/upstream-files.json), from UPSTREAM_DIR or the download cache that
    tests/run fills; the test fails, never skips, when it is missing or differs from its checksum."""
    import pytest  # here, not above: tests/run runs this file with a Python that may lack pytest

    (entry,) = [f for f in manifest() if f.path == relative]
    directory = Path(os.environ["UPSTREAM_DIR"]) if os.environ.get("UPSTREAM_DIR") else CACHE
    try:
        check(directory, [entry])
    except UpstreamError as error:
        pytest.fail(str(error))
    return directory / relative


def upstream_files(prefix: str) -> list[str]:
    """Manifest paths under `prefix`, known at collection time without touching the files."""
    return [f.path for f in manifest() if f.path.startswith(prefix)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the directory holding every upstream test file.")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--cache", type=Path, default=CACHE, help="where downloads are kept")
    args = parser.parse_args(argv)
    try:
        print(resolve(manifest(args.manifest), cache=args.cache))
    except UpstreamError as error:
        print(f"tests/support/upstream.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
