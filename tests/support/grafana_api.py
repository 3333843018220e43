"""Grafana's documented HTTP API responses, served on 127.0.0.1, for the doctor's Grafana checks.

No Grafana server can run on these machines (none is in any registry here), so this serves the
responses Grafana's HTTP API documentation gives for each endpoint the doctor reads (/api/health,
/api/datasources/name/:name, /api/datasources/uid/:uid/health, /api/dashboards/uid/:uid, and the
X-Frame-Options header of a dashboard page), healthy by default, with switches for each fault.
It also stands where the Ray head's RAY_GRAFANA_HOST points in the live tests, since Ray's
/api/grafana_health reads only /api/health. Nothing else is faked.
"""

from __future__ import annotations

import base64
from urllib.parse import unquote

from support.loopback import LoopbackServer, QuietHandler


class GrafanaApi:
    def __init__(self, password: str, dashboard_uids: tuple[str, ...], port: int = 0,
                 datasource: str = "Prometheus"):
        self.password = password
        self.dashboard_uids = set(dashboard_uids)
        self.datasource = datasource
        # Faults, off by default.
        self.database = "ok"
        self.datasource_healthy = True
        self.anonymous = True
        self.embedding = True
        api = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = unquote(self.path.split("?", 1)[0])
                admin = self.headers.get("Authorization") == "Basic " + base64.b64encode(
                    f"admin:{api.password}".encode()).decode()
                if path == "/api/health":
                    return self.send_json(200, {"commit": "0000000", "database": api.database, "version": "12.5.0"})
                if path.startswith("/api/datasources/"):
                    if not admin:
                        return self.send_json(401, {"message": "Unauthorized"})
                    if path == f"/api/datasources/name/{api.datasource}":
                        return self.send_json(200, {"id": 1, "uid": "ray-prometheus", "orgId": 1,
                                                    "name": api.datasource, "type": "prometheus", "access": "proxy",
                                                    "isDefault": True})
                    if path == "/api/datasources/uid/ray-prometheus/health":
                        if api.datasource_healthy:
                            return self.send_json(200, {"status": "OK",
                                                    "message": "Successfully queried the Prometheus API."})
                        return self.send_json(400, {"status": "ERROR", "message": "Post \"http://prometheus:9090/api/v1/"
                                                "query\": dial tcp: lookup prometheus: no such host"})
                    return self.send_json(404, {"message": "Data source not found"})
                if path.startswith("/api/dashboards/uid/"):
                    if not (admin or api.anonymous):
                        return self.send_json(401, {"message": "Unauthorized"})
                    uid = path.rsplit("/", 1)[-1]
                    if uid in api.dashboard_uids:
                        return self.send_json(200, {"dashboard": {"uid": uid, "title": uid}, "meta": {"slug": uid}})
                    return self.send_json(404, {"message": "Dashboard not found"})
                if path.startswith("/d/"):
                    headers = {} if api.embedding else {"X-Frame-Options": "deny"}
                    return self.send(200, b"<!doctype html><title>Grafana</title>", "text/html", headers)
                return self.send_json(404, {"message": "Not found"})

        self._server = LoopbackServer(Handler, port)
        self.url = self._server.url

    def start(self) -> GrafanaApi:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
