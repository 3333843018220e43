"""The doctor's Grafana checks against Grafana's documented HTTP API responses (tests/support/grafana_api.py:
no Grafana server can run here), answering as the minikube stack's deployed grafana.ini, provisioning and
dashboards make Grafana answer. Each fault is diagnosed by the right check, with its cause and its fix."""

from __future__ import annotations

from dataclasses import replace

import pytest

from doctor.__main__ import expectations
from doctor.checks import GRAFANA_CHECKS, Expectations, grafana
from doctor.http import Http
from support.cloud_mocks import GENERATED_PASSWORD
from support.grafana_api import GrafanaApi, deployed_grafana
from support.loopback import free_port

UIDS = ("rayDefaultDashboard", "rayDataDashboard")


@pytest.fixture
def api(minikube):
    server = deployed_grafana(minikube).start()
    try:
        yield server
    finally:
        server.stop()


def stack_expectations(minikube, api) -> Expectations:
    """What the minikube stack tells the doctor, with the browser's address at the stand-in."""
    return replace(expectations(minikube.doctor, "minikube"), iframe_host=api.url)


def outcome(api, password: str | None = GENERATED_PASSWORD, expect: Expectations | None = None) -> dict:
    expect = expect or Expectations(datasource_name="Prometheus", dashboard_uids=UIDS, iframe_host=api.url)
    return {r.check: r for r in grafana(Http(timeout=5), api.url, password, expect)}


def failed(results: dict) -> list[str]:
    return [name for name, r in results.items() if r.ok is False]


def test_the_deployed_grafana_passes_every_check(api, minikube):
    results = outcome(api, expect=stack_expectations(minikube, api))
    assert list(results) == GRAFANA_CHECKS
    assert all(r.ok is True for r in results.values()), {k: r.detail for k, r in results.items()}


def test_a_grafana_ini_without_embedding_or_anonymous_viewers_is_caught(minikube):
    maps = {r.name: r.plain["data"] for r in minikube.of_type("kubernetes:core/v1:ConfigMap")}
    ini = maps["grafana-config"]["grafana.ini"]
    assert "allow_embedding = true" in ini and "enabled = true" in ini
    changed = ini.replace("allow_embedding = true", "allow_embedding = false").replace(
        "[auth.anonymous]\nenabled = true", "[auth.anonymous]\nenabled = false")
    server = GrafanaApi(changed, maps["grafana-provisioning"]["datasources.yaml"], [], "pw").start()
    try:
        results = outcome(server, password="pw", expect=Expectations(iframe_host=server.url))
    finally:
        server.stop()
    assert failed(results) == ["anonymous viewers can read dashboards", "embedding allowed"]


def test_a_forgotten_port_forward_is_named(api, minikube):
    expect = replace(stack_expectations(minikube, api), iframe_host=f"http://127.0.0.1:{free_port()}")
    results = outcome(api, expect=expect)
    assert failed(results) == ["the browser's Grafana address answers"]
    assert "grafanaPortForward" in results["the browser's Grafana address answers"].fix
    assert results["embedding allowed"].ok is True, "checked at Grafana itself when the browser's address is down"


def test_an_ingress_that_forbids_framing_is_caught_at_the_browsers_address(api, minikube):
    ingress = deployed_grafana(minikube).start()  # stands where the browser loads Grafana, adding its header
    ingress.embedding = False
    try:
        results = outcome(api, expect=replace(stack_expectations(minikube, api), iframe_host=ingress.url))
    finally:
        ingress.stop()
    assert failed(results) == ["embedding allowed"]
    assert ingress.url in results["embedding allowed"].detail and "ingress" in results["embedding allowed"].fix


def test_without_the_password_the_datasource_check_is_not_run(api):
    results = outcome(api, password=None)
    assert results["datasource exists and connects"].ok is None and failed(results) == []


@pytest.mark.parametrize("fault,check,cause,fix", [
    (lambda api: setattr(api, "database", "failing"), "Grafana healthy", "database failing", "kubectl logs"),
    (lambda api: setattr(api, "datasource", "Thanos"), "datasource exists and connects",
     "no datasource named 'Prometheus'", "datasourceName"),
    (lambda api: setattr(api, "datasource_healthy", False), "datasource exists and connects",
     "no such host", "datasourceName"),
    (lambda api: api.dashboard_uids.discard("rayDataDashboard"), "Ray's dashboards provisioned",
     "missing: rayDataDashboard", "provisions every dashboard"),
    (lambda api: setattr(api, "anonymous", False), "anonymous viewers can read dashboards", "HTTP 401",
     "[auth.anonymous]"),
    (lambda api: setattr(api, "embedding", False), "embedding allowed", "X-Frame-Options: deny",
     "allow_embedding = true"),
])
def test_each_fault_is_diagnosed(api, fault, check, cause, fix):
    fault(api)
    results = outcome(api)
    if check == "Grafana healthy":
        assert failed(results) == [check]
        assert all(r.ok is None for name, r in results.items() if name != check), "the rest is not run"
    else:
        assert failed(results) == [check]
    assert cause in results[check].detail and fix in results[check].fix


def test_an_unreachable_grafana_fails_once_and_runs_nothing_else():
    results = {r.check: r for r in grafana(Http(timeout=2), "http://127.0.0.1:9", "x", Expectations())}
    assert failed(results) == ["Grafana healthy"] and "no answer" in results["Grafana healthy"].detail
