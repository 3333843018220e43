"""tests/support/upstream.py: upstream files from UPSTREAM_DIR or a checksummed download, never a silent gap.
Downloads are tested against an HTTP server on 127.0.0.1: a good file, a wrong checksum, a server
that is down."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from support import upstream
from support.loopback import LoopbackServer, free_port
from support.paths import PROJECT_ROOT

GOOD = b"apiVersion: v1\nkind: Example\n"


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/served over HTTP on 127.0.0.1; stopped after the test."""
    served = tmp_path / "served"
    (served / "tag").mkdir(parents=True)
    (served / "tag" / "good.yaml").write_bytes(GOOD)

    class Files(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args) -> None:
            pass

    http = LoopbackServer(Files).start()
    try:
        yield f"{http.url}/tag"
    finally:
        http.stop()


def entry(url: str, content: bytes = GOOD, path: str = "schemas/good.yaml") -> upstream.UpstreamFile:
    return upstream.UpstreamFile(path, url, hashlib.sha256(content).hexdigest())


def test_a_good_file_is_downloaded_checked_and_cached(server, tmp_path):
    cache = tmp_path / "cache"
    directory = upstream.resolve([entry(f"{server}/good.yaml")], environ={}, cache=cache)
    assert directory == cache and (cache / "schemas/good.yaml").read_bytes() == GOOD
    # Cached with the right checksum: not fetched again, even with the server gone.
    assert upstream.download([entry("http://127.0.0.1:9/gone.yaml")], cache) == cache


def test_a_wrong_checksum_keeps_nothing(server, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(upstream.UpstreamError, match="does not match its pinned sha256"):
        upstream.download([entry(f"{server}/good.yaml", content=b"something else")], cache)
    assert not (cache / "schemas/good.yaml").exists()


def test_a_server_that_is_down_names_the_file_and_both_ways(tmp_path):
    file = entry(f"http://127.0.0.1:{free_port()}/good.yaml")
    with pytest.raises(upstream.UpstreamError) as raised:
        upstream.download([file], tmp_path / "cache", timeout=5)
    message = str(raised.value)
    assert "schemas/good.yaml could not be downloaded" in message
    assert "UPSTREAM_DIR" in message and file.url in message


def test_upstream_dir_wins_and_is_checked(tmp_path):
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas/good.yaml").write_bytes(GOOD)
    never = entry(f"http://127.0.0.1:{free_port()}/good.yaml")
    assert upstream.resolve([never], environ={"UPSTREAM_DIR": str(tmp_path)}) == tmp_path.resolve()
    (tmp_path / "schemas/good.yaml").write_bytes(b"edited")
    with pytest.raises(upstream.UpstreamError, match="does not match"):
        upstream.resolve([never], environ={"UPSTREAM_DIR": str(tmp_path)})
    with pytest.raises(upstream.UpstreamError, match="missing from UPSTREAM_DIR"):
        upstream.resolve([entry("x", path="schemas/other.yaml")], environ={"UPSTREAM_DIR": str(tmp_path)})


def test_offline_without_upstream_dir_prints_one_message_and_fails(tmp_path):
    """As tests/run calls it: exit 1, nothing on stdout, one line on stderr, no traceback."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"files": [vars(entry(f"http://127.0.0.1:{free_port()}/good.yaml"))]}))
    env = {"PATH": "/usr/bin:/bin"}
    script = str(PROJECT_ROOT / "tests/support/upstream.py")
    result = subprocess.run([sys.executable, script, "--manifest", str(manifest), "--cache", str(tmp_path / "cache")],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("tests/support/upstream.py: schemas/good.yaml could not be downloaded")


def test_the_manifest_pins_every_file_the_tests_read():
    files = upstream.manifest()
    assert len({f.path for f in files}) == len(files)
    for file in files:
        assert len(file.sha256) == 64 and file.url.startswith("https://raw.githubusercontent.com/")
        assert "/v1.7.0/" in file.url or "/v0.93.0/" in file.url, f"{file.path}: not at a pinned tag"
    used = set()
    for test in (PROJECT_ROOT / "tests").rglob("*.py"):
        used.update(f.path for f in files if f.path in test.read_text() or
                    (f.path.startswith("fixtures/raycluster.") and "upstream_files(\"fixtures/raycluster.\")"
                     in test.read_text()))
    assert used, "the tests read upstream files through the manifest"


def test_tests_run_resolves_upstream_files_before_anything_else():
    script = (PROJECT_ROOT / "tests/run").read_text()
    resolve = script.index("$(python3 tests/support/upstream.py)")
    assert resolve < script.index("apt-get update") < script.index("-m pytest")
    assert 'export UPSTREAM_DIR="$upstream_dir"' in script


def test_nothing_upstream_is_committed():
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    names = {Path(f.path).name for f in upstream.manifest()}
    assert not [t for t in tracked if Path(t).name in names]
    assert ".upstream-cache/" in (PROJECT_ROOT / ".gitignore").read_text().split()
