"""The log pipeline's real programs on 127.0.0.1: the OpenTelemetry Collector built from its modules
(support/go_tools.py) running a configuration the stacks deploy, and VictoriaLogs as the OTLP store it
sends to (Loki takes the same OTLP/HTTP logs; it is AGPL and not built here)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from support.live import LOOPBACK, Processes, wait_until
from support.tools import tool


class VictoriaLogs:
    def __init__(self, processes: Processes, workdir: Path, port: int, auth: tuple[str, str] | None = None):
        """`auth`: (username, password) its inserts and queries require (-httpAuth.*; /health stays open)."""
        self.processes, self.workdir, self.port, self.auth = processes, workdir, port, auth
        self.url = f"http://{LOOPBACK}:{port}"
        self.process: subprocess.Popen | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def otlp_url(self) -> str:
        """The base the collector's OTLP/HTTP exporter appends /v1/logs to."""
        return f"{self.url}/insert/opentelemetry"

    def start(self, timeout: float = 30) -> None:
        self.process = self.processes.start("victoria-logs", [
            tool("victoria-logs"), f"-httpListenAddr={LOOPBACK}:{self.port}",
            f"-storageDataPath={self.workdir / 'data'}", "-retentionPeriod=100y",
            *([f"-httpAuth.username={self.auth[0]}", f"-httpAuth.password={self.auth[1]}"] if self.auth else []),
        ], self.workdir / "victoria-logs.log")
        wait_until(lambda: urllib.request.urlopen(f"{self.url}/health", timeout=2).status == 200,  # noqa: S310
                   timeout, f"VictoriaLogs ready on {self.url} (see {self.workdir / 'victoria-logs.log'})")

    def stop(self) -> None:
        if self.process is not None:
            self.processes.stop(self.process)
            self.process = None

    def query(self, logsql: str) -> list[dict]:
        """Every record the LogsQL query selects (all time), as VictoriaLogs returns them: one JSON object each."""
        body = urllib.parse.urlencode({"query": logsql}).encode()
        request = urllib.request.Request(f"{self.url}/select/logsql/query", data=body)  # noqa: S310
        if self.auth:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
            return [json.loads(line) for line in reply.read().decode().splitlines() if line.strip()]


class Collector:
    """The collector with a deployed configuration, its container paths moved to this machine's."""

    def __init__(self, processes: Processes, workdir: Path, config_text: str, paths: dict[str, str],
                 env: dict[str, str], telemetry_port: int = 8888):
        """`paths`: container path -> local path (Ray's temp dir, the storage directory); `env`: what the
        container's environment gives it (the node's name and type); `telemetry_port`: where its own metrics
        are served here (8888 as deployed; another where two collectors run on this machine at once)."""
        self.processes, self.workdir, self.env, self.telemetry_port = processes, workdir, env, telemetry_port
        workdir.mkdir(parents=True, exist_ok=True)
        local = config_text
        for container, here in sorted(paths.items(), key=lambda p: -len(p[0])):
            local = local.replace(container, here)
        config = yaml.safe_load(local)
        (reader,) = config["service"]["telemetry"]["metrics"]["readers"]
        reader["pull"]["exporter"]["prometheus"]["port"] = telemetry_port
        self.config_file = workdir / "collector.yaml"
        self.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        self.process: subprocess.Popen | None = None

    def validate(self) -> subprocess.CompletedProcess:
        return subprocess.run([tool("otelcol-contrib"), "validate", f"--config={self.config_file}"],
                              capture_output=True, text=True, timeout=60, env=self._env())

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def start(self, timeout: float = 30) -> None:
        self.process = self.processes.start("otelcol", [tool("otelcol-contrib"), f"--config={self.config_file}"],
                                            self.workdir / "collector.log", env=self._env())
        wait_until(lambda: self.metric("otelcol_process_uptime") is not None, timeout,
                   f"the collector's telemetry (see {self.workdir / 'collector.log'})")

    def stop(self) -> None:
        """SIGTERM, as a container runtime stops it: the collector flushes its queue's state and offsets."""
        if self.process is not None:
            self.processes.stop(self.process, grace=30)
            self.process = None

    def metric(self, name: str) -> float | None:
        """The sum of a metric on the collector's own telemetry endpoint, if it has it."""
        with urllib.request.urlopen(f"http://{LOOPBACK}:{self.telemetry_port}/metrics",  # noqa: S310
                                    timeout=2) as reply:
            values = [float(line.rsplit(" ", 1)[1]) for line in reply.read().decode().splitlines()
                      if line.startswith(name) and not line.startswith("#")]
        return sum(values) if values else None
