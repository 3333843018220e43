"""dashboards/: Ray's own dashboards, exactly as the pinned Ray generates them."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

from components.builders.dashboard_catalogue import load_dashboards
from components.versions import RAY_IMAGE, RAY_VERSION
from support.paths import PROJECT_ROOT

# Uids the Ray Dashboard links to (ray/dashboard/modules/metrics in Ray 2.60.0).
RAY_DASHBOARD_UIDS = {
    "rayDefaultDashboard", "rayDataDashboard", "rayDataLlmDashboard", "rayServeDashboard",
    "rayServeDeploymentDashboard", "rayServeLlmDashboard", "rayServeLlmSglangDashboard", "rayTrainDashboard",
}


def test_ray_is_pinned_once():
    assert version("ray") == RAY_VERSION, "tests/run installs the pinned ray; reinstall it"
    assert RAY_IMAGE == f"rayproject/ray:{RAY_VERSION}"


def test_committed_ray_dashboards_match_the_pinned_generator():
    checked = subprocess.run([sys.executable, str(PROJECT_ROOT / "dashboards" / "regenerate.py"), "--check"],
                             capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_linked_uid_is_provisioned_once():
    uids = [d.uid for d in load_dashboards()]
    assert len(uids) == len(set(uids)), f"duplicate uids: {uids}"
    assert RAY_DASHBOARD_UIDS <= set(uids), f"missing: {RAY_DASHBOARD_UIDS - set(uids)}"
    assert all(f"rayVersion:{RAY_VERSION}" in json.loads(d.content)["tags"]
               for d in load_dashboards() if d.relative_path.startswith("ray/"))
