"""The nodes' boot scripts run for real by bash, with the commands that reach the network or the
machine (apt-get, docker, curl, systemctl, shutdown, sleep, install) replaced by stand-ins that
record each call and fail as often as a test says: retries, backoff, the timer and the worker's exit."""

from __future__ import annotations

import subprocess
from pathlib import Path

from components.builders.cloud_init import (
    APPLY_UNIT,
    RETRIES,
    HeadBoot,
    WorkerToken,
    head_start_script,
    worker_start_script,
)

# A stand-in fails while its counter is below FAIL_<NAME> (-1: always), logging each call.
STAND_IN = '''#!/usr/bin/env bash
name=$(basename "$0")
echo "$name $*" >> "$CALLS"
count_file="$STATE/$name.count"
count=$(( $(cat "$count_file" 2>/dev/null || echo 0) + 1 ))
echo "$count" > "$count_file"
limit_var="FAIL_${name//-/_}"
limit=${!limit_var:-0}
[[ $limit -lt 0 || $count -le $limit ]] && exit 1
exit 0
'''
COMMANDS = ("apt-get", "docker", "curl", "systemctl", "shutdown", "sleep", "install", "python3")


def boot(script: str, tmp_path: Path, **failures: int) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Runs `script` with the stand-ins; `failures`: command (with _ for -) -> failing calls first."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for command in COMMANDS:
        (bin_dir / command).write_text(STAND_IN)
        (bin_dir / command).chmod(0o755)
    (tmp_path / "start.sh").write_text(script)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS": str(tmp_path / "calls"), "STATE": str(state),
           **{f"FAIL_{name}": str(count) for name, count in failures.items()}}
    done = subprocess.run(["bash", str(tmp_path / "start.sh")], env=env, capture_output=True, text=True, timeout=60)
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return done, calls


def sleeps(calls: list[str]) -> list[int]:
    return [int(call.split()[1]) for call in calls if call.startswith("sleep ")]


def test_a_worker_retries_docker_with_backoff_then_joins(tmp_path):
    # Docker is missing twice (an apt lock, a mirror error), then Compose's pull fails once (a pull limit).
    done, calls = boot(worker_start_script(), tmp_path, docker=3, apt_get=1, curl=2)
    assert done.returncode == 0, done.stderr
    # One retry of the install (each step backs off afresh), one of Compose, two 10 s polls for the raylet.
    assert sleeps(calls) == [5, 5, 10, 10]
    assert [c for c in calls if c.startswith("docker compose --project-directory")][-1].endswith("up -d")
    assert not [c for c in calls if c.startswith("shutdown")], "joined: it stays"


def test_a_worker_that_never_joins_shuts_down_for_a_replacement(tmp_path):
    done, calls = boot(worker_start_script(), tmp_path, curl=-1)
    assert done.returncode != 0
    assert "shutdown -h +1" in calls, calls[-3:]
    assert "not joined to the Ray head" in done.stderr


def test_a_worker_whose_docker_never_comes_shuts_down_too(tmp_path):
    done, calls = boot(worker_start_script(), tmp_path, docker=-1, apt_get=-1)
    assert done.returncode != 0
    assert len([c for c in calls if c.startswith("apt-get update")]) == RETRIES
    assert sleeps(calls) == [5, 10, 20, 40, 80, 160, 300], "capped at 5 minutes, no sleep after the last try"
    assert calls[-1] == "shutdown -h +1"


def test_the_head_enables_its_apply_timer_even_when_bootstrap_fails(tmp_path):
    script = head_start_script(HeadBoot("us-west-2", "bucket", "vol-0123456789abcdef0", "/ray-monitoring/x/key"))
    done, calls = boot(script, tmp_path, docker=-1, apt_get=-1)
    assert done.returncode != 0
    assert len([c for c in calls if c.startswith("apt-get update")]) == RETRIES
    assert calls[-2:] == ["systemctl daemon-reload", f"systemctl enable --now {APPLY_UNIT}.timer"]


def test_a_worker_fetches_rays_token_before_compose_and_retries_it(tmp_path):
    # SSM may refuse for a while (the parameter written moments ago, throttling): retried like the rest.
    script = worker_start_script(WorkerToken("us-west-2", "/ray-monitoring/aws/ray-cluster/ray/auth-token"))
    done, calls = boot(script, tmp_path, python3=2)
    assert done.returncode == 0, done.stderr
    fetches = [c for c in calls if c.startswith("python3 -c import os, sys, boto3")]
    assert len(fetches) == 2 and fetches[-1].endswith(
        "us-west-2 /ray-monitoring/aws/ray-cluster/ray/auth-token /opt/ray-monitoring/ray/auth-token.new")
    first_compose = next(i for i, c in enumerate(calls) if c.startswith("docker compose --project-directory"))
    assert calls.index(fetches[-1]) < first_compose, "Ray starts with its token"
    token = "/opt/ray-monitoring/ray/auth-token"
    assert f"install -m 0400 -o 1000 -g 1000 {token}.new {token}" in calls
