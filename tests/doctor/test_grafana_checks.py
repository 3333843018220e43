"""The doctor's Grafana checks against Grafana's documented HTTP API responses (tests/grafana_api.py:
no Grafana server can run here, so these responses stand in for it; nothing else is faked).
Each fault is diagnosed by the right check, with its cause and its fix."""

from __future__ import annotations

import pytest

from doctor.checks import GRAFANA_CHECKS, Expectations, grafana
from doctor.http import Http
from support.grafana_api import GrafanaApi

UIDS = ("rayDefaultDashboard", "rayDataDashboard")
EXPECT = Expectations(datasource_name="Prometheus", dashboard_uids=UIDS)


@pytest.fixture
def api():
    server = GrafanaApi("s3cret", UIDS).start()
    try:
        yield server
    finally:
        server.stop()


def outcome(api, password: str | None = "s3cret", expect: Expectations = EXPECT) -> dict:
    return {r.check: r for r in grafana(Http(timeout=5), api.url, password, expect)}


def failed(results: dict) -> list[str]:
    return [name for name, r in results.items() if r.ok is False]


def test_a_healthy_grafana_passes_every_check(api):
    results = outcome(api)
    assert list(results) == GRAFANA_CHECKS
    assert all(r.ok is True for r in results.values()), {k: r.detail for k, r in results.items()}


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
    results = {r.check: r for r in grafana(Http(timeout=2), "http://127.0.0.1:9", "x", EXPECT)}
    assert failed(results) == ["Grafana healthy"] and "no answer" in results["Grafana healthy"].detail
