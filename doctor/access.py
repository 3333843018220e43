"""How the doctor reaches a deployed stack: its outputs from the Pulumi CLI, and on Kubernetes a
`kubectl port-forward` per Service with the user's kubeconfig (no NodePort needed)."""

from __future__ import annotations

import json
import re
import selectors
import shutil
import subprocess
import time

PORT_FORWARD_WAIT = 20  # seconds for kubectl to report its local port


class StackAccessError(Exception):
    """The stack's outputs or its services could not be reached; the message says what to do."""


class ForwardFailed(StackAccessError):
    """`kubectl port-forward` to one Service did not start: what kubectl said, and what to do."""

    def __init__(self, namespace: str, service: str, kubectl_said: str):
        self.service = service
        self.detail = (f"kubectl port-forward -n {namespace} svc/{service} did not start: {kubectl_said}"
                       if kubectl_said else f"kubectl port-forward -n {namespace} svc/{service} reported no port "
                       f"within {PORT_FORWARD_WAIT} s")
        if "not running" in kubectl_said or "Pending" in kubectl_said:
            self.fix = (f"its pod is not running yet (on minikube, often an image still being pulled): watch "
                        f"kubectl get pods -n {namespace}, then run the doctor again")
        elif "not found" in kubectl_said:
            self.fix = f"the Service is not there: kubectl get svc -n {namespace}; run pulumi up"
        else:
            self.fix = f"check the pods behind it: kubectl get pods -n {namespace}; kubectl describe svc -n " \
                       f"{namespace} {service}"
        super().__init__(f"{self.detail}. Fix: {self.fix}")


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
        """The local URL of a forward to the Service; ForwardFailed with kubectl's own words if it does not start."""
        if not shutil.which("kubectl"):
            raise StackAccessError("kubectl is not on PATH: the doctor port-forwards to the stack's Services")
        command = ["kubectl", "port-forward", "-n", namespace, f"svc/{service}", f":{port}"]
        if self.context:
            command[1:1] = ["--context", self.context]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.processes.append(process)
        said: list[str] = []
        with selectors.DefaultSelector() as waiting:
            assert process.stdout is not None
            waiting.register(process.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + PORT_FORWARD_WAIT
            while (left := deadline - time.monotonic()) > 0 and waiting.select(timeout=left):
                line = process.stdout.readline()
                if not line:  # kubectl exited
                    break
                found = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
                if found:
                    return f"http://127.0.0.1:{found.group(1)}"
                said.append(line.strip())
        raise ForwardFailed(namespace, service, next((line for line in reversed(said) if line), ""))

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
