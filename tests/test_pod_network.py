"""The tests' pod network (support/pod_network.py) recovers from a run killed before it cleaned up: what that run
left under the same prefix is removed at start, nothing else is touched, and close() leaves nothing."""

from __future__ import annotations

import subprocess

from support.pod_network import PodNetwork

PREFIX = "rmpodt"  # this test's own: the discovery scenario's and the log test's prefixes differ


def namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30, check=True).stdout
    return {line.split()[0] for line in listed.splitlines() if line.split()}


def test_a_killed_runs_namespaces_are_swept_and_close_leaves_nothing():
    left = PodNetwork("10.254.7.0/24", prefix=PREFIX).start()
    left.add_pod("10.254.7.1")  # then "killed": no close()
    sleeper = subprocess.Popen(["ip", "netns", "exec", f"{PREFIX}0", "sleep", "600"])
    network = PodNetwork("10.254.7.0/24", prefix=PREFIX)
    try:
        network.start()
        assert sleeper.wait(timeout=30) != 0, "the leftover namespace's process is stopped"
        assert network.add_pod("10.254.7.1") == f"{PREFIX}0"
        assert {f"{PREFIX}-net", f"{PREFIX}0"} <= namespaces()
    finally:
        network.close()
        sleeper.kill()
    assert not {n for n in namespaces() if n.startswith(PREFIX)}
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True, timeout=30, check=True).stdout
    assert f"{PREFIX}h" not in links
