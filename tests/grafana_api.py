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
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

LOOPBACK = "127.0.0.1"


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

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = unquote(self.path.split("?", 1)[0])
                admin = self.headers.get("Authorization") == "Basic " + base64.b64encode(
                    f"admin:{api.password}".encode()).decode()
                if path == "/api/health":
                    return self._json(200, {"commit": "0000000", "database": api.database, "version": "12.5.0"})
                if path.startswith("/api/datasources/"):
                    if not admin:
                        return self._json(401, {"message": "Unauthorized"})
                    if path == f"/api/datasources/name/{api.datasource}":
                        return self._json(200, {"id": 1, "uid": "ray-prometheus", "orgId": 1, "name": api.datasource,
                                                "type": "prometheus", "access": "proxy", "isDefault": True})
                    if path == "/api/datasources/uid/ray-prometheus/health":
                        if api.datasource_healthy:
                            return self._json(200, {"status": "OK",
                                                    "message": "Successfully queried the Prometheus API."})
                        return self._json(400, {"status": "ERROR", "message": "Post \"http://prometheus:9090/api/v1/"
                                                "query\": dial tcp: lookup prometheus: no such host"})
                    return self._json(404, {"message": "Data source not found"})
                if path.startswith("/api/dashboards/uid/"):
                    if not (admin or api.anonymous):
                        return self._json(401, {"message": "Unauthorized"})
                    uid = path.rsplit("/", 1)[-1]
                    if uid in api.dashboard_uids:
                        return self._json(200, {"dashboard": {"uid": uid, "title": uid}, "meta": {"slug": uid}})
                    return self._json(404, {"message": "Dashboard not found"})
                if path.startswith("/d/"):
                    headers = {} if api.embedding else {"X-Frame-Options": "deny"}
                    return self._send(200, b"<!doctype html><title>Grafana</title>", "text/html", headers)
                return self._json(404, {"message": "Not found"})

            def _json(self, status: int, body: dict) -> None:
                self._send(status, json.dumps(body).encode(), "application/json", {})

            def _send(self, status: int, data: bytes, kind: str, headers: dict) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> GrafanaApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
