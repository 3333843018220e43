"""An HTTP error anywhere in a check is that check failing, with the URL and status, never a traceback:
a Prometheus that is ready but answers 500 to everything else fails each check it breaks."""

from __future__ import annotations

from doctor.checks import PROMETHEUS_CHECKS, Expectations, Findings, prometheus
from doctor.http import Http
from support.loopback import LoopbackServer, QuietHandler


class Broken(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/-/ready":
            return self.send(200, b"Prometheus Server is Ready.", "text/plain")
        return self.send_json(500, {"status": "error", "error": "internal error"})


def test_a_failing_api_fails_its_checks_and_raises_nothing():
    server = LoopbackServer(Broken).start()
    try:
        results = prometheus(Http(timeout=5), server.url, Expectations(ray_nodes=10, prometheus_memory_limit="1Gi",
                                                                       remote_writes=1),
                             Findings(alive_nodes=["10.0.0.1:8080"]))
    finally:
        server.stop()
    outcome = {r.check: r for r in results}
    assert list(outcome) == PROMETHEUS_CHECKS
    assert outcome["Prometheus ready"].ok is True
    # /api/v1/targets, read by two checks, fails both; the rest fail on their own reads.
    for check in ("Ray head's autoscaler and dashboard metrics scraped", "no other target down"):
        assert outcome[check].ok is False and "api/v1/targets" in outcome[check].detail and "HTTP 500" in \
            outcome[check].detail
    assert all(r.ok is False for name, r in outcome.items() if name != "Prometheus ready"), \
        {k: (r.ok, r.detail) for k, r in outcome.items()}
