"""How the doctor reaches a deployed stack: its outputs from the Pulumi CLI, and on Kubernetes a
`kubectl port-forward` per Service with the user's kubeconfig (no NodePort needed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time

PORT_FORWARD_WAIT = 20  # seconds for kubectl to report its local port


class StackAccessError(Exception):
    """The stack's outputs or its services could not be reached; the message says what to do."""


def stack_outputs(stack: str) -> dict:
    if not shutil.which("pulumi"):
        raise StackAccessError("the Pulumi CLI is not on PATH; or give the URLs (--prometheus-url ...)")
    result = subprocess.run(["pulumi", "stack", "output", "--json", "--show-secrets", "--stack", stack],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise StackAccessError(f"pulumi stack output --stack {stack} failed: {result.stderr.strip()}")
    outputs = json.loads(result.stdout)
    if "doctor" not in outputs:
        raise StackAccessError(f"stack {stack} has no `doctor` output: run pulumi up --stack {stack} first")
    return outputs


class PortForwards:
    """`kubectl port-forward` to a free local port, one per Service; all stopped by close()."""

    def __init__(self, context: str | None = None):
        self.context = context
        self.processes: list[subprocess.Popen] = []

    def open(self, namespace: str, service: str, port: int) -> str:
        if not shutil.which("kubectl"):
            raise StackAccessError("kubectl is not on PATH: the doctor port-forwards to the stack's Services")
        command = ["kubectl", "port-forward", "-n", namespace, f"svc/{service}", f":{port}"]
        if self.context:
            command[1:1] = ["--context", self.context]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.processes.append(process)
        deadline = time.monotonic() + PORT_FORWARD_WAIT
        while time.monotonic() < deadline:
            line = process.stdout.readline() if process.stdout else ""
            found = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
            if found:
                return f"http://127.0.0.1:{found.group(1)}"
            if not line and process.poll() is not None:
                break
        raise StackAccessError(f"kubectl port-forward -n {namespace} svc/{service} did not start within "
                               f"{PORT_FORWARD_WAIT} s: is the Service there (kubectl get svc -n {namespace})?")

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
