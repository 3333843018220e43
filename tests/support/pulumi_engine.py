"""`pulumi preview`, `up` and `destroy` of this project by the real Pulumi engine (built from its Go module,
support/go_tools.py) on its local file backend, with the real pulumi-kubernetes provider.

The Python language host (`pulumi-language-python`) is a module the Go proxy refuses, so the program runs
as an Automation API inline program: the SDK serves the language runtime itself and the CLI runs the same
`__main__.py` through it (`pulumi up --client`). Each operation runs in a child process (`python -m
support.pulumi_engine`), so the SDK's global state never meets the mocks of the tests beside it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.go_tools import build
from support.paths import PROJECT_ROOT

PROJECT = "ray-monitoring"


@dataclass
class Outcome:
    operation: str
    changes: dict[str, int]  # the engine's summary: {"create": 12, "same": 3, ...}
    outputs: dict[str, Any]
    seconds: float
    log: str
    # Every step but "same": (op, URN, the properties that differ); op is the engine's (update, replace,
    # create-replacement, delete, ...).
    steps: list[tuple[str, str, list[str]]] = field(default_factory=list)
    error: str = ""

    def changed(self) -> dict[str, str]:
        """URN -> op of the resources the operation created, updated, replaced or deleted."""
        return {urn: op for op, urn, _ in self.steps if op not in ("same", "read", "refresh")}


@dataclass
class Project:
    """A copy of Pulumi.yaml and one stack in `workdir` (its state there too), from the preset `base`."""

    workdir: Path
    stack: str
    kubeconfig: Path
    base: str | None = "minikube"  # the preset (stacks/settings/presets.py); None: only what `config` sets
    config: dict[str, Any] = field(default_factory=dict)  # key -> value, as `pulumi config set` sets them
    secret_config: dict[str, str] = field(default_factory=dict)  # as `pulumi config set --secret`

    def __post_init__(self) -> None:
        self.passphrase = secrets.token_hex(16)
        (self.workdir / "stacks").mkdir(parents=True, exist_ok=True)
        (self.workdir / "state").mkdir(exist_ok=True)
        (self.workdir / "Pulumi.yaml").write_text((PROJECT_ROOT / "Pulumi.yaml").read_text())
        if self.base and self.base != self.stack:  # a stack named like its preset has it already
            self.config = {"preset": self.base, **self.config}
        self._sent: set[str] = set()  # the keys the last operation set: one dropped since is removed

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """The real `pulumi` CLI in the project's directory (`stack init`, `config set`, ...), checked."""
        done = subprocess.run([str(build("pulumi")), *args], cwd=self.workdir, env=self.env(), capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, f"pulumi {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def env(self) -> dict[str, str]:
        tools = [build("pulumi").parent, build("pulumi-resource-kubernetes").parent]
        return {
            **os.environ,
            # The provider is found on PATH ("ambient"), as a plugin built from source is.
            "PATH": os.pathsep.join([*map(str, tools), os.environ.get("PATH", "")]),
            "PULUMI_HOME": str(self.workdir / "pulumi-home"),
            "PULUMI_BACKEND_URL": f"file://{self.workdir / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": self.passphrase,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",  # nothing leaves the machine
            "KUBECONFIG": str(self.kubeconfig),
            "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(PROJECT_ROOT / "tests")]),
        }

    def start(self, operation: str, **options: Any) -> subprocess.Popen:
        """Begin `operation` (preview, up, destroy; `options` as the Automation API takes them, e.g.
        refresh=True for `pulumi up --refresh`); finish() waits for it."""
        config = {"kubernetes:kubeconfig": str(self.kubeconfig), **self.config}
        request = {"operation": operation, "options": options, "workdir": str(self.workdir), "stack": self.stack,
                   "config": config, "secret_config": self.secret_config,
                   "dropped": sorted(self._sent - {*config, *self.secret_config})}
        self._sent = {*config, *self.secret_config}
        process = subprocess.Popen([sys.executable, "-m", "support.pulumi_engine"], cwd=self.workdir, env=self.env(),
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        assert process.stdin is not None
        process.stdin.write(json.dumps(request))  # on stdin, not the command line: it holds secrets
        process.stdin.close()
        process.stdin = None  # written: communicate() reads the output only
        return process

    def finish(self, process: subprocess.Popen, timeout: float = 900) -> Outcome:
        try:
            log, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            log, _ = process.communicate(timeout=60)
            raise AssertionError(f"pulumi did not finish within {timeout} s:\n{log[-6000:]}") from None
        lines = log.splitlines()
        result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else \
            {"operation": "?", "changes": {}, "outputs": {}, "seconds": 0.0, "error": "no result"}
        return Outcome(log="\n".join(lines[:-1]), **result)

    def run(self, operation: str, timeout: float = 900, **options: Any) -> Outcome:
        return self.finish(self.start(operation, **options), timeout)


def _main(request: dict[str, Any]) -> dict[str, Any]:
    import runpy

    from pulumi import automation as auto

    def program() -> None:
        runpy.run_path(str(PROJECT_ROOT / "__main__.py"), run_name="__main__")

    stack = auto.create_or_select_stack(
        stack_name=request["stack"], project_name=PROJECT, program=program,
        opts=auto.LocalWorkspaceOptions(work_dir=request["workdir"]))
    config = {key if ":" in key else f"{PROJECT}:{key}": auto.ConfigValue(
        value if isinstance(value, str) else json.dumps(value)) for key, value in request["config"].items()}
    config.update({key if ":" in key else f"{PROJECT}:{key}": auto.ConfigValue(value, secret=True)
                   for key, value in request["secret_config"].items()})
    # A key dropped from `config` since the last operation is removed, as `pulumi config rm` would; what the
    # CLI set itself (Project.cli) stays.
    dropped = [key if ":" in key else f"{PROJECT}:{key}" for key in request["dropped"]]
    if dropped:
        stack.remove_all_config(dropped)
    stack.set_all_config(config)
    started, operation = time.monotonic(), request["operation"]
    steps: list[tuple[str, str, list[str]]] = []

    def step(event: auto.EngineEvent) -> None:
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            if str(meta.op.value) != "same":
                steps.append((str(meta.op.value), meta.urn, list(meta.diffs or [])))

    printed = {"on_output": print, "on_event": step, **request["options"]}
    if operation == "preview":
        changes = dict(stack.preview(**printed).change_summary)  # type: ignore[arg-type]
        outputs = {}
    elif operation == "up":
        result = stack.up(**printed)
        changes, outputs = dict(result.summary.resource_changes or {}), result.outputs
    else:
        changes = dict(stack.destroy(**printed).summary.resource_changes or {})
        outputs = {}
    return {"operation": operation, "changes": {str(k): int(v) for k, v in changes.items()},
            "outputs": {k: (None if v.secret else v.value) for k, v in outputs.items()},
            "seconds": round(time.monotonic() - started, 1), "steps": steps}


if __name__ == "__main__":
    request = json.loads(sys.stdin.read())
    try:
        summary = _main(request)
    except Exception as error:  # noqa: BLE001 reported to the test as its result
        summary = {"operation": request["operation"], "changes": {}, "outputs": {}, "seconds": 0.0,
                   "error": f"{type(error).__name__}: {error}"}
    sys.stdout.flush()
    print(json.dumps(summary, default=str))
