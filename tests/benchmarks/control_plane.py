"""Benchmark: how long the real Pulumi engine takes on the minikube stack, on the control-plane tier's cluster
(kube-apiserver, controllers, scheduler and kwok running minikube's node; KubeRay's chart from a Helm
repository on 127.0.0.1; KubeRay's operator as a process): tests/support/deployments.py.

Prints seconds for `pulumi preview` on the empty cluster, `pulumi up` from zero until every Deployment is
available (the engine waits for them), a no-op `pulumi up`, and `pulumi destroy`. Needs the Go tools
(`PYTHONPATH=tests venv/bin/python -m support.go_tools`) and UPSTREAM_DIR or the download cache.

    venv/bin/python tests/benchmarks/control_plane.py [--runs 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.deployments import start_cluster, up_with_kuberay  # noqa: E402
from support.live import Processes  # noqa: E402


def measure() -> dict[str, float]:
    processes = Processes()
    with tempfile.TemporaryDirectory(prefix="control-plane-benchmark-") as work:
        try:
            started = time.monotonic()
            cluster = start_cluster(Path(work), processes)
            figures = {"cluster ready": time.monotonic() - started}
            project = cluster.project("minikube")
            for name, run in (("preview", lambda: project.run("preview")),
                              ("up from zero", lambda: up_with_kuberay(cluster, project)),
                              ("no-op up", lambda: project.run("up")),
                              ("destroy", lambda: project.run("destroy"))):
                started = time.monotonic()
                outcome = run()
                if outcome.error:
                    raise SystemExit(f"{name} failed: {outcome.error}\n{outcome.log[-3000:]}")
                figures[name] = time.monotonic() - started
                print(f"  {name:<14} {figures[name]:6.1f} s  {outcome.changes}", flush=True)
            cluster.charts.stop()
            return figures
        finally:
            processes.stop_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    results = []
    for run in range(args.runs):
        print(f"run {run + 1}:", flush=True)
        results.append(measure())
    print("\nseconds (median of runs)")
    for name in results[0]:
        values = sorted(r[name] for r in results)
        print(f"  {name:<14} {values[len(values) // 2]:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
