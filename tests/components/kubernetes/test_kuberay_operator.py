"""The KubeRay operator component alone, under mocks: one pinned Helm release."""

from __future__ import annotations

from components.kubernetes.kuberay_operator import KubeRayOperator, KubeRayOperatorArgs
from support.stacks import run


def test_kuberay_operator_alone():
    result = run("unit", {}, lambda: KubeRayOperator("op", KubeRayOperatorArgs("ops")))
    assert result.error is None, result.error
    release = result.one("kubernetes:helm.sh/v3:Release", "op-release").plain
    assert (release["chart"], release["version"], release["namespace"]) == ("kuberay-operator", "1.7.0", "ops")
    assert release["atomic"] is True and release["timeout"] == 300
    (component,) = result.of_type("ray-monitoring:kubernetes:KubeRayOperator")
    assert result.one("kubernetes:helm.sh/v3:Release", "op-release").parent == component.urn
