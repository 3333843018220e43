"""Facts about the KubeRay operator this tier runs (v1.5.0, the newest release the Go module proxy serves)
against the version the stack installs (v1.7.0), read from their sources."""

from __future__ import annotations

import yaml

from support.go_tools import TOOLS, module_dir
from support.upstream import upstream_file


def test_kuberay_v1_5_has_no_raycluster_upgrade_strategy_which_v1_7_has():
    # ray-operator/apis/ray/v1/raycluster_types.go (v1.5.0): RayClusterSpec has no UpgradeStrategy; KubeRay
    # 1.6 added spec.upgradeStrategy (Recreate | None), which v1.7.0's CRD carries. So the tier cannot show
    # the operator recreating the head after a template change (docs/development.md).
    assert TOOLS["kuberay-operator"].version == "v1.5.0"
    types = (module_dir("kuberay-operator") / "apis" / "ray" / "v1" / "raycluster_types.go").read_text()
    assert "type RayClusterSpec struct" in types and "UpgradeStrategy" not in types
    crd = yaml.safe_load(upstream_file("schemas/ray.io_rayclusters.v1.7.0.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert spec["upgradeStrategy"]["properties"]["type"]["enum"] == ["Recreate", "None"]


def test_kuberay_v1_5_calls_the_dashboard_with_go_default_http_client():
    # controllers/ray/utils/util.go (v1.5.0): the dashboard client is an http.Client with no Transport, so
    # Go's default transport and its proxy settings apply (HTTP_PROXY keeps it on 127.0.0.1 here).
    util = (module_dir("kuberay-operator") / "controllers" / "ray" / "utils" / "util.go").read_text()
    assert 'dashboardClient.InitClient(&http.Client{\n\t\t\tTimeout: 2 * time.Second,\n\t\t}, "http://"+url)' in util
    assert "client:       &http.Client{Timeout: 2 * time.Second}" in util  # the Serve proxies' health client
