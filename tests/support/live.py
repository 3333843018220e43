"""Real processes for the live tests and benchmarks: Ray, Prometheus, node_exporter on 127.0.0.1.

Every wait is bounded; every process started here is stopped by `Processes.stop_all`, also when a
test fails. Ray's temp dir is private to each run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

from components.builders.prometheus_config import storage_flags
from support.tools import tool

VENV_BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> float:
    """Seconds until `check()` is truthy; AssertionError naming `what` after `timeout` seconds."""
    start = time.monotonic()
    last_error: Exception | None = None
    while time.monotonic() - start < timeout:
        try:
            if check():
                return time.monotonic() - start
        except (OSError, ValueError, KeyError) as error:  # server not up yet
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})")


def http_json(url: str, timeout: float = 5, token: str | None = None) -> Any:
    """`token`: Ray's, for the dashboard's API under token authentication."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback only)
        return json.loads(response.read())




# Seconds each signal is repeated for. SIGTERM's is short: Ray 2.60's GCS, raylets, runtime-env agents and
# autoscaler monitor were all still running 3 s after it (measured), and a test's cluster has no state worth a
# graceful stop.
SIGNAL_GRACES = ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0))


def signal_until_gone(pids: Callable[[], list[int]]) -> None:
    """SIGTERM to every process `pids()` finds until none is left or its grace runs out, then SIGKILL
    likewise: for processes that are not our children (Ray's daemons, what runs in a network namespace)."""
    for sig, grace in SIGNAL_GRACES:
        deadline = time.monotonic() + grace
        while (found := pids()) and time.monotonic() < deadline:
            for pid in found:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)


class Processes:
    """Owns background processes; stops them all (TERM, then KILL after a grace period)."""

    def __init__(self) -> None:
        self._running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
        handle = log.open("wb")
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
        handle.close()
        self._running.append((name, process))
        return process

    def stop(self, process: subprocess.Popen, grace: float = 10) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=grace)

    def stop_all(self) -> None:
        for _, process in reversed(self._running):
            self.stop(process)
        self._running.clear()


class Prometheus:
    def __init__(self, processes: Processes, workdir: Path, config: dict | Path, port: int = 9090):
        """`config`: the configuration, or the path of a file that holds it (left as it is)."""
        self.processes, self.workdir, self.port = processes, workdir, port
        self.url = f"http://{LOOPBACK}:{port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_file = config if isinstance(config, Path) else workdir / "prometheus.yml"
        if not isinstance(config, Path):
            self.config_file.write_text(json.dumps(config))  # JSON is YAML
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30, *flags: str, agent: bool = False, wrapper: tuple[str, ...] = (),
              env: dict[str, str] | None = None) -> None:
        """`agent`: agent mode, with the storage flags the stacks deploy (prometheus_config.storage_flags);
        `wrapper`: a command that runs Prometheus' command line (a private mount namespace), with `env`."""
        storage = (storage_flags(str(self.workdir / "data"), True, "", "") if agent
                   else [f"--storage.tsdb.path={self.workdir / 'data'}"])
        self.process = self.processes.start("prometheus", [
            *wrapper, tool("prometheus"), f"--config.file={self.config_file}", *storage,
            f"--web.listen-address={LOOPBACK}:{self.port}", *flags,
        ], self.workdir / "prometheus.log", env=env)
        wait_until(lambda: urllib.request.urlopen(f"{self.url}/-/ready", timeout=2).status == 200,  # noqa: S310
                   timeout, f"Prometheus ready on {self.url} (see {self.workdir / 'prometheus.log'})")

    def stop(self) -> None:
        if self.process is not None:
            self.processes.stop(self.process)

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        """An instant query, now or `at` (Unix seconds)."""
        params = {"query": expr, **({"time": f"{at:.3f}"} if at is not None else {})}
        reply = http_json(f"{self.url}/api/v1/query?" + urllib.parse.urlencode(params))
        assert reply["status"] == "success", f"{expr}: {reply}"
        return reply["data"]["result"]

    def targets(self) -> list[dict]:
        return http_json(f"{self.url}/api/v1/targets?state=active")["data"]["activeTargets"]

    def target_up(self, job: str, address: str) -> bool:
        return any(t["labels"].get("job") == job and t["scrapeUrl"].split("/")[2] == address
                   and t["health"] == "up" for t in self.targets())

    def own_metric(self, name: str) -> float:
        """A metric from Prometheus' own /metrics, whether or not it scrapes itself."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as response:  # noqa: S310
            for line in response.read().decode().splitlines():
                if line.startswith(f"{name} "):
                    return float(line.split()[1])
        raise KeyError(name)

    def rss_bytes(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0


class RayCluster:
    """`ray start` head and workers on this machine, in a private temp dir."""

    def __init__(self, temp_dir: Path, head_env: dict[str, str], gcs_port: int = 6391):
        self.temp_dir, self.gcs_port = temp_dir, gcs_port
        temp_dir.mkdir(parents=True, exist_ok=True)
        # TMPDIR too: Ray's processes make multiprocessing dirs there that `ray stop` leaves behind.
        self.env = {**os.environ, "RAY_TMPDIR": str(temp_dir), "TMPDIR": str(temp_dir), **head_env}
        self.started = False

    @property
    def sd_file(self) -> Path:
        return self.temp_dir / "prom_metrics_service_discovery.json"

    def _ray(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run([str(VENV_BIN / "ray"), *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, f"ray {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"

    def start_head(self, metrics_port: int = 8080, num_cpus: int = 2) -> None:
        self.started = True
        # Every Ray process on the loopback: without a node address Ray takes the machine's own (eth0's).
        self._ray("start", "--head", f"--node-ip-address={LOOPBACK}", f"--port={self.gcs_port}",
                  f"--metrics-export-port={metrics_port}", f"--temp-dir={self.temp_dir}",
                  f"--dashboard-host={LOOPBACK}", "--dashboard-port=8265", f"--num-cpus={num_cpus}",
                  "--disable-usage-stats")
        # This cluster's own address for its drivers: `address="auto"` would take any Ray cluster whose processes
        # it finds on the machine (the discovery scenario runs one beside this, in network namespaces).
        self.env["RAY_ADDRESS"] = self.address

    def add_worker(self, metrics_port: int, num_cpus: int = 1) -> None:
        self._ray("start", f"--address={self.address}", f"--node-ip-address={LOOPBACK}",
                  f"--metrics-export-port={metrics_port}", f"--num-cpus={num_cpus}", "--disable-usage-stats")

    @property
    def address(self) -> str:
        return (self.temp_dir / "ray_current_cluster").read_text().strip()

    def run(self, script: str, timeout: float = 120) -> str:
        result = subprocess.run([sys.executable, "-c", script], env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, f"workload failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def processes(self) -> list[int]:
        """This cluster's processes: Ray's daemons and workers all inherit its RAY_TMPDIR (`ray stop` would
        take every Ray process on the machine, the discovery scenario's in its network namespaces too)."""
        marker = f"RAY_TMPDIR={self.temp_dir}".encode()
        found = []
        for environ in Path("/proc").glob("[0-9]*/environ"):
            try:
                if marker in environ.read_bytes().split(b"\0"):
                    found.append(int(environ.parent.name))
            except OSError:  # gone, or not ours to read
                continue
        return [pid for pid in found if pid != os.getpid()]

    def stop(self) -> None:
        if self.started:
            signal_until_gone(self.processes)
            self.started = False


def on_loopback(config: dict, sd_file: Path, rules_file: Path | None) -> dict:
    """The deployed prometheus.yml, changed only where one machine forces it: the discovery file
    and rule file paths, and target addresses (Ray advertises the interface address; its exporters
    listen on every address) moved to 127.0.0.1."""
    local = json.loads(json.dumps(config))
    if rules_file is not None:
        local["rule_files"] = [str(rules_file)]
    for job in local["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [str(sd_file)]
        if "file_sd_configs" in job:
            job.setdefault("relabel_configs", []).append({"source_labels": ["__address__"], "regex": r"[^:]+:(\d+)",
                                           "replacement": f"{LOOPBACK}:${{1}}", "target_label": "__address__"})
    return local


WORKLOAD = """
import ray
ray.init(address="auto", logging_level="ERROR")

@ray.remote
def square(x):
    return x * x

@ray.remote
def fail():
    raise ValueError("expected failure")

@ray.remote
class Counter:
    def __init__(self):
        self.n = 0
    def add(self):
        self.n += 1
        return self.n

assert sum(ray.get([square.remote(i) for i in range(50)])) == sum(i * i for i in range(50))
try:
    ray.get(fail.remote())
except Exception:
    pass
counter = Counter.remote()
assert ray.get([counter.add.remote() for _ in range(5)])[-1] == 5
ref = ray.put(b"x" * 20_000_000)
assert len(ray.get(ref)) == 20_000_000
print("workload done")
"""
