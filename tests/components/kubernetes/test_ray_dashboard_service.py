"""The Ray Dashboard NodePort Service alone, under mocks."""

from __future__ import annotations

from components.kubernetes.ray_dashboard_service import RayDashboardService, RayDashboardServiceArgs
from support.stacks import run


def test_ray_dashboard_service_alone():
    result = run("unit", {}, lambda: RayDashboardService("d", RayDashboardServiceArgs("rc", "ns", 30001)))
    assert result.error is None, result.error
    service = result.one("kubernetes:core/v1:Service", "d-service").plain
    assert service["metadata"]["namespace"] == "ns" and service["spec"]["ports"][0]["nodePort"] == 30001
    assert service["spec"]["selector"] == {"ray.io/cluster": "rc", "ray.io/node-type": "head",
                                           "app.kubernetes.io/created-by": "kuberay-operator"}
