"""Fixtures shared by every folder: the Kubernetes API stand-in the preflight reads, and each shipped
stack run once under the cloud mocks. Helpers live in tests/support/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.control_plane import SAMPLE_RAY_CLUSTER
from support.kubernetes_api import KubernetesApi, ray_clusters_in
from support.stacks import PATCH_MODE, USERS_CLUSTER, Run, run_stack
from support.upstream import upstream_file

LIVE_TESTS = Path(__file__).parent / "live"
CONTROL_PLANE_TESTS = Path(__file__).parent / "control_plane"
DISCOVERY_TESTS = CONTROL_PLANE_TESTS / "discovery"
LOGS_TESTS = LIVE_TESTS / "test_logs_live.py"  # its own Ray node, in a network namespace


# The long groups first, alternating between the two kinds (busy cores, waiting timers), so that pytest-xdist,
# which hands out groups in collection order, starts them at once on different workers and the short files
# fill in around them, instead of one long group starting last.
LONG_GROUPS = ("control-plane", "live", "logs", "discovery")


def _group(item: pytest.Item) -> str:
    return ("logs" if item.path == LOGS_TESTS else
            "live" if LIVE_TESTS in item.path.parents else
            "discovery" if DISCOVERY_TESTS in item.path.parents else
            "control-plane" if CONTROL_PLANE_TESTS in item.path.parents else str(item.path))


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]):
    """Under `pytest -n` (tests/run), each file's tests run on one worker, so its module fixtures
    (stack runs, a moto server, one checkov report) are made once; the live tier is one group: its
    tests share one Ray cluster on Ray's fixed ports; the control-plane tier is one group: its scenarios
    share one API server; the discovery scenario (its own API server, its Ray in network namespaces of its
    own) is a group of its own, beside both, and so is the live log shipper test (its Ray node likewise).
    Marked before every other implementation (xdist reads the groups); ordered after all of them (the
    control-plane scenarios' own order stays)."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    result = yield
    rank = {group: index for index, group in enumerate(LONG_GROUPS)}
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))
    return result


@pytest.fixture(scope="session", autouse=True)
def kubernetes_api(tmp_path_factory):
    """The API server the minikube stack's preflight reads: KubeRay's sample RayCluster as a user applies it
    (USERS_CLUSTER in ray-system, head ray-head), which PATCH_MODE patches."""
    api = KubernetesApi().start()
    (sample,) = ray_clusters_in(upstream_file(SAMPLE_RAY_CLUSTER))
    api.add(sample, name=USERS_CLUSTER, namespace="ray-system")
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(api.kubeconfig(tmp_path_factory.mktemp("kube") / "config"))
    try:
        yield api
    finally:
        api.stop()
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous


@pytest.fixture(scope="session")
def minikube() -> Run:
    result = run_stack("minikube")
    assert result.error is None, f"minikube stack failed: {result.error!r}"
    return result


@pytest.fixture(scope="session")
def minikube_patch() -> Run:
    result = run_stack("minikube", **PATCH_MODE)
    assert result.error is None, f"minikube stack (patch mode) failed: {result.error!r}"
    return result


@pytest.fixture(scope="session")
def aws() -> Run:
    result = run_stack("aws")
    assert result.error is None, f"aws stack failed: {result.error!r}"
    return result


