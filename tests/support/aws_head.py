"""The aws head's apply path run for real: moto's S3 and SSM servers on 127.0.0.1 (from .venv-aws),
filled with exactly the objects and SecureStrings the program registers, and the apply script the
head's user-data writes, run with boto3 against them. Only the container runtime is a stand-in: a
`docker` on PATH that records each call (and, for the live test, delivers the signal to a process)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from components.builders.head_config import MANIFEST_KEY, sign
from support.loopback import LOOPBACK, LoopbackServer, QuietHandler, free_port
from support.paths import PROJECT_ROOT
from support.stacks import Run, written_files

AWS_VENV = PROJECT_ROOT / ".venv-aws" / "bin"
REGION = "us-west-2"

# One process for every seeding of a server (boto3's import is most of a short process' time): reads
# one JSON spec per line, puts it with boto3, answers one line ("ok" or the error).
SEEDER = '''
import json, sys, traceback, boto3
for line in sys.stdin:
    try:
        spec = json.loads(line)
        s3 = boto3.client("s3", region_name=spec["region"])
        ssm = boto3.client("ssm", region_name=spec["region"])
        buckets = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
        if spec["bucket"] not in buckets:
            s3.create_bucket(Bucket=spec["bucket"], CreateBucketConfiguration={"LocationConstraint": spec["region"]})
        for key, content in spec["objects"].items():
            s3.put_object(Bucket=spec["bucket"], Key=key, Body=content.encode(),
                          Metadata=spec["metadata"].get(key, {}))
        for name, value in spec["parameters"].items():
            # As pulumi up: an unchanged value is not written again (SSM would add a version for it).
            try:
                if ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == value:
                    continue
            except ssm.exceptions.ParameterNotFound:
                pass
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
        print("ok", flush=True)
    except Exception:
        print(json.dumps(traceback.format_exc()), flush=True)
'''

# Records each call as a JSON line; with SIGNAL_PID set, `compose kill -s SIG SERVICE` reaches that process.
DOCKER = '''#!/usr/bin/env bash
set -euo pipefail
python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@" >> "$DOCKER_LOG"
args="$*"
if [[ -n "${SIGNAL_PID:-}" && " $args " == *" kill -s "* ]]; then
  signal=${args##*kill -s }
  kill -s "${signal%% *}" "$SIGNAL_PID"
fi
'''


def aws_python() -> str:
    python = AWS_VENV / "python"
    assert python.exists(), "the aws virtualenv is missing: tests/run makes .venv-aws (tests/requirements-aws.txt)"
    return str(python)


class MotoServer:
    """moto's server (S3 and SSM) on 127.0.0.1; every wait bounded."""

    def __init__(self, log: Path):
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._log = log
        self._process: subprocess.Popen | None = None
        self._seeder: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "MotoServer":
        server = AWS_VENV / "moto_server"
        assert server.exists(), "moto_server is missing: tests/run installs tests/requirements-aws.txt"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen([str(server), "-H", LOOPBACK, "-p", str(self.port)], stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2).read()  # noqa: S310 (loopback)
                return self
            except OSError:
                assert self._process.poll() is None, self._log.read_text()
                time.sleep(0.2)
        raise AssertionError(f"moto_server did not answer within {timeout} s")

    def stop(self) -> None:
        for process in (self._seeder, self._process):
            if process and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)

    def seed(self, spec: dict, timeout: float = 120) -> None:
        """Put `spec` (region, bucket, objects, parameters) with boto3, as `pulumi up` would."""
        if self._seeder is None:
            self._seeder = subprocess.Popen([aws_python(), "-c", SEEDER], env=self.env(), stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, text=True)
        assert self._seeder.stdin and self._seeder.stdout
        self._seeder.stdin.write(json.dumps(spec) + "\n")
        self._seeder.stdin.flush()
        ready, _, _ = select.select([self._seeder.stdout], [], [], timeout)
        assert ready, f"seeding moto took over {timeout} s"
        answer = self._seeder.stdout.readline().strip()
        assert answer == "ok", json.loads(answer) if answer else "the seeder exited"

    def env(self) -> dict[str, str]:
        return {**os.environ, "AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}


def moto_server(directory: Path):
    """For a fixture: `yield from moto_server(tmp_path_factory.mktemp("moto"))`."""
    server = MotoServer(directory / "moto.log").start()
    try:
        yield server
    finally:
        server.stop()


class GrafanaAdmin(QuietHandler):
    """Grafana's provisioning reload endpoints: records each call and its credentials."""

    calls: list[tuple[str, str]] = []
    down = False

    def do_POST(self) -> None:  # noqa: N802
        if type(self).down:
            self.send_json(503, {"message": "starting"})
            return
        type(self).calls.append((self.path, self.headers.get("Authorization", "")))
        self.send_json(200, {"message": "reloaded"})


class InstanceMetadata(QuietHandler):
    """EC2's instance metadata service as IMDSv2 answers (AWS EC2 user guide, "Use IMDSv2" and
    "Instance metadata categories"): a token from PUT /latest/api/token, then each item with it; an
    item the instance lacks is 404 (`public-hostname` in a VPC without DNS hostnames)."""

    TOKEN = "imds-session-token"
    items: dict[str, str] = {}

    def do_PUT(self) -> None:  # noqa: N802
        if self.path != "/latest/api/token" or not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self.send(400, b"", "text/plain")
            return
        self.send(200, self.TOKEN.encode(), "text/plain")

    def do_GET(self) -> None:  # noqa: N802
        if self.headers.get("X-aws-ec2-metadata-token") != self.TOKEN:
            self.send(401, b"", "text/plain")
            return
        item = self.path.removeprefix("/latest/meta-data/")
        value = type(self).items.get(item)
        self.send(200 if value is not None else 404, (value or "").encode(), "text/plain")


def signing_key(result: Run) -> str:
    """The manifest's signing key, as the program puts it in SSM."""
    return result.one("aws:ssm/parameter:Parameter", "monitoring-manifest-signing-key-parameter").plain["value"]


@dataclass
class Head:
    """One head's filesystem (under `root`), its apply script and what it called."""

    moto: MotoServer
    root: Path
    user_data: str
    grafana: LoopbackServer
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        files = written_files(self.user_data)
        self.script = self.root / "apply_config.py"
        self.script.write_text(files["/opt/ray-monitoring/bin/apply_config.py"])
        spec = json.loads(files["/opt/ray-monitoring/boot.json"])
        # Where Grafana listens here, and, for the data volume's mount script (which mounts a real device
        # as root), a stand-in that answers as it would: mounted while `volume_mounted` exists.
        self.volume_mounted = self.root / "data-volume-mounted"
        self.volume_mounted.touch()
        self.spec = {**spec, "grafana_url": self.grafana.url, "mount_data": ["test", "-e", str(self.volume_mounted)]}
        self.boot = self.root / "boot.json"
        self.boot.write_text(json.dumps(self.spec))
        bin_dir = self.root / "bin"
        bin_dir.mkdir()
        (bin_dir / "docker").write_text(DOCKER)
        (bin_dir / "docker").chmod(0o755)
        self.docker_log = self.root / "docker.log"
        self.docker_log.touch()
        self.path = f"{bin_dir}:{os.environ['PATH']}"

    def seed(self, result: Run, parameters: dict[str, str] | None = None,
             replaced: dict[str, str] | None = None, resign: bool = True) -> None:
        """Put what the program registers: every bucket object (with its metadata: the manifest's
        signature) and every SecureString's value; `parameters` and `replaced` (key -> content) stand
        in for values written out of step. A replaced manifest is signed as `pulumi up` would sign
        it, unless `resign` is False (a manifest someone else wrote)."""
        registered = result.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
        objects = {r.plain["key"]: r.plain["content"] for r in registered} | (replaced or {})
        metadata = {r.plain["key"]: r.plain["metadata"] for r in registered if r.plain.get("metadata")}
        if resign and MANIFEST_KEY in (replaced or {}):
            metadata[MANIFEST_KEY] = {"signature": sign(objects[MANIFEST_KEY], signing_key(result))}
        parameters = parameters if parameters is not None else {
            r.plain["name"]: r.plain["value"] for r in result.of_type("aws:ssm/parameter:Parameter")}
        self.moto.seed({"region": REGION, "bucket": self.spec["bucket"], "objects": objects, "metadata": metadata,
                        "parameters": parameters})

    def apply(self) -> subprocess.CompletedProcess:
        env = {**self.moto.env(), "PATH": self.path, "DOCKER_LOG": str(self.docker_log), **self.extra_env}
        return subprocess.run([aws_python(), str(self.script), str(self.boot), "--root", str(self.root)], env=env,
                              capture_output=True, text=True, timeout=120)

    def docker_calls(self) -> list[list[str]]:
        """The calls since the last look."""
        lines = self.docker_log.read_text().splitlines()
        self.docker_log.write_text("")
        return [json.loads(line)[5:] for line in lines]  # without `compose --project-directory D -f F`

    def file(self, path: str) -> Path:
        return self.root / path.lstrip("/")
