"""The EC2 nodes' instance metadata guard, run: the shipped iptables rule in a network namespace the test
makes, a stand-in metadata service on 169.254.169.254 inside it, and clients inside and outside a cgroup at
the path of Ray's slice, as root and as uid 1000. What it cannot show here: Docker placing the containers in
the slice (Compose's cgroup_parent, checked in the rendered file)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from components.builders import cloud_init
from components.constants import RAY_SLICE
from support.stacks import written_files
from support.tools import tool

IMDS = "169.254.169.254"
PROBE = ("import socket, sys\ntry:\n    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()\n"
         "    print('reached')\nexcept ConnectionRefusedError:\n    print('refused')\n")
ALERTMANAGER = ("127.0.0.1", 9093)
SYSTEM_PYTHON = "/usr/bin/python3"  # readable by uid 1000, unlike a virtualenv under /root


def cgroup2_root() -> Path:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines() if line.split()[2] == "cgroup2"]
    assert mounts, "no cgroup2 hierarchy mounted: the guard's cgroup match needs one (as on Ubuntu 24.04)"
    return Path(mounts[0])


@pytest.fixture
def guarded():
    """A network namespace with the guard's rule and a metadata stand-in; yields a probe(in_slice, uid)."""
    assert os.geteuid() == 0, "network namespaces and cgroups need root (tests/run runs as root in CI)"
    namespace = f"rm-imds-{os.getpid()}"
    slice_dir = cgroup2_root() / RAY_SLICE
    made_slice = not slice_dir.exists()
    scope = slice_dir / f"docker-test{os.getpid()}.scope"  # where Docker puts a container of the slice
    scope.mkdir(parents=True)
    ip, iptables = tool("ip"), tool("iptables")
    servers: list[subprocess.Popen] = []
    try:
        subprocess.run([ip, "netns", "add", namespace], check=True, timeout=30)
        inside = [ip, "netns", "exec", namespace]
        subprocess.run([*inside, ip, "link", "set", "lo", "up"], check=True, timeout=30)
        subprocess.run([*inside, ip, "addr", "add", f"{IMDS}/32", "dev", "lo"], check=True, timeout=30)
        for rule in cloud_init.GUARD_RULES:  # as the unit's ExecStart lines insert them
            subprocess.run([*inside, iptables, "-w", "-I", *rule.split()], check=True, timeout=30)
        # Stand-ins for the metadata service and the head's Alertmanager (127.0.0.1:9093).
        servers = [subprocess.Popen([*inside, SYSTEM_PYTHON, "-m", "http.server", "--bind", host, str(port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for host, port in ((IMDS, 80), ALERTMANAGER)]

        def probe(in_slice: bool, uid: int = 0, address: tuple[str, int] = (IMDS, 80)) -> str:
            enter = f"echo $$ > {scope}/cgroup.procs && " if in_slice else ""
            drop = f"setpriv --reuid {uid} --regid {uid} --clear-groups " if uid else ""
            result = subprocess.run([tool("nsenter"), f"--net=/run/netns/{namespace}", "--", "sh", "-c",
                                     f"{enter}exec {drop}{SYSTEM_PYTHON} -c \"$PROBE\" {address[0]} {address[1]}"],
                                    env={**os.environ, "PROBE": PROBE}, capture_output=True, text=True, timeout=30)
            assert result.returncode == 0, result.stderr
            return result.stdout.strip()

        for _ in range(50):  # the stand-ins listening: bounded, 5 s at most
            if probe(in_slice=False) == probe(in_slice=False, address=ALERTMANAGER) == "reached":
                break
            time.sleep(0.1)
        yield probe
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        subprocess.run([ip, "netns", "del", namespace], check=False, timeout=30)
        scope.rmdir()
        if made_slice:
            slice_dir.rmdir()


def test_a_process_in_rays_slice_is_refused_the_metadata_service_whatever_its_uid(guarded):
    # iptables-extensions(8), cgroup: `--path` matches sockets of processes in that cgroup2 path and below.
    # The rayproject/ray image gives its ray user passwordless sudo: a job can become root.
    assert guarded(in_slice=True, uid=0) == "refused", "root inside a Ray container"
    assert guarded(in_slice=True, uid=1000) == "refused", "Ray's own uid"
    assert guarded(in_slice=False, uid=1000) == "reached", "the host's ubuntu user (uid 1000) keeps it"
    assert guarded(in_slice=False, uid=0) == "reached", "root on the host (the apply timer) keeps it"


def test_a_job_cannot_reach_the_heads_alertmanager_to_silence_alerts(guarded):
    # Alertmanager's API (silences) answers whoever reaches its port; the host network shares 127.0.0.1.
    assert guarded(in_slice=True, uid=1000, address=ALERTMANAGER) == "refused"
    assert guarded(in_slice=True, uid=0, address=ALERTMANAGER) == "refused"
    assert guarded(in_slice=False, uid=65534, address=ALERTMANAGER) == "reached", "Prometheus' uid, outside"


def test_the_ray_containers_run_in_the_guarded_slice_and_docker_waits_for_the_guard(aws):
    # systemd's slice.c: starting a slice realizes its cgroup, so the rule's path exists when it is inserted.
    for files in (aws.written(), written_files(aws.worker_user_data())):
        unit = files["/etc/systemd/system/ray-monitoring-imds-guard.service"]
        assert f"Requires={RAY_SLICE}\nAfter={RAY_SLICE}" in unit
        for rule in cloud_init.GUARD_RULES:
            assert f"ExecStart=/usr/sbin/iptables -w -I {rule}\n" in unit
            assert f"ExecStop=/usr/sbin/iptables -w -D {rule}\n" in unit
        assert f"/etc/systemd/system/{RAY_SLICE}" in files
        drop_in = files["/etc/systemd/system/docker.service.d/ray-monitoring-imds-guard.conf"]
        assert "Requires=ray-monitoring-imds-guard.service" in drop_in
    services = yaml.safe_load(aws.config()["/opt/ray-monitoring/compose.yaml"])["services"]
    assert services["ray-head"]["cgroup_parent"] == RAY_SLICE
    assert "cgroup_parent" not in services["prometheus"], "Prometheus signs with the role"
    worker = yaml.safe_load(written_files(aws.worker_user_data())["/opt/ray-monitoring/compose.yaml"])
    assert worker["services"]["ray-worker"]["cgroup_parent"] == RAY_SLICE


def test_no_new_privileges_keeps_a_setuid_binary_from_raising_a_jobs_uid(aws, tmp_path_factory):
    # prctl(2), PR_SET_NO_NEW_PRIVS: execve no longer honours set-user-ID bits; Docker's `no-new-privileges`
    # sets it for the container's processes, so the rayproject/ray image's setuid sudo cannot make root.
    directory = Path(tmp_path_factory.mktemp("setuid"))
    for path in (directory, *directory.parents):
        if path == Path("/tmp"):
            break
        path.chmod(0o755)  # uid 1000 must reach the binary
    binary = directory / "id"
    binary.write_bytes(Path("/usr/bin/id").read_bytes())
    binary.chmod(0o4755)  # set-user-ID root, as sudo is
    setpriv = tool("setpriv")

    def effective_uid(*no_new_privs: str) -> str:
        result = subprocess.run([setpriv, "--reuid", "1000", "--regid", "1000", "--clear-groups", *no_new_privs,
                                 str(binary), "-u"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert effective_uid() == "0", "a setuid binary raises the uid without the flag"
    assert effective_uid("--no-new-privs") == "1000"
    for files in (aws.config(), written_files(aws.worker_user_data())):
        for name, service in yaml.safe_load(files["/opt/ray-monitoring/compose.yaml"])["services"].items():
            if name.startswith("ray-"):
                assert service["security_opt"] == ["no-new-privileges:true"] and service["cap_drop"] == ["ALL"]
