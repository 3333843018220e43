"""Grafana's documented HTTP API responses, served on 127.0.0.1, for the doctor's Grafana checks.

No Grafana server can run on these machines (none is in any registry here), so this serves the
responses Grafana's HTTP API documentation gives for each endpoint the doctor reads (/api/health,
/api/datasources/name/:name, /api/datasources/uid/:uid/health, /api/dashboards/uid/:uid, and the
X-Frame-Options header of a dashboard page).
Where a Loki datasource is provisioned, its health and its `label/<name>/values` resource (which Grafana forwards to
Loki's /loki/api/v1/label/<name>/values: pkg/tsdb/loki/loki.go) are answered from a real store that
`logs_store` names: VictoriaLogs, which the collectors send the same OTLP logs to (Loki is AGPL, not built
here); what the store holds is what it answers, in Loki's documented response shape.
What it answers comes from the files a stack deploys:
anonymous access and embedding from its grafana.ini, the datasource from its provisioning file, the
dashboards from the dashboard files, the admin password from its secret. Tests then flip one fault
at a time.
It also stands where the Ray head's RAY_GRAFANA_HOST points in the live tests, since Ray's
/api/grafana_health reads only /api/health. Nothing else is faked.
"""

from __future__ import annotations

import base64
import configparser
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Iterable
from urllib.parse import unquote

import yaml

from components.builders.head_layout import BASE
from support.loopback import LoopbackServer, QuietHandler
from support.pulumi_internals import reveal
from support.stacks import Run


class GrafanaApi:
    def __init__(self, grafana_ini: str, datasources_yaml: str, dashboards: Iterable[str], password: str,
                 port: int = 0):
        ini = configparser.ConfigParser()
        ini.read_string(grafana_ini)
        # The metrics datasource the Ray Dashboard names (Loki's, with `logs`, is beside it).
        provisioned = yaml.safe_load(datasources_yaml)["datasources"]
        (datasource,) = [d for d in provisioned if d["type"] == "prometheus"]
        self.logs_uid = next((d["uid"] for d in provisioned if d["type"] == "loki"), None)
        self.logs_store: str | None = None  # the URL of the VictoriaLogs the collectors send to
        self.password = password
        self.dashboard_uids = {json.loads(d)["uid"] for d in dashboards}
        self.datasource, self.datasource_uid = datasource["name"], datasource["uid"]
        self.anonymous = (ini.getboolean("auth.anonymous", "enabled", fallback=False)
                          and ini.get("auth.anonymous", "org_role", fallback="") == "Viewer")
        self.embedding = ini.getboolean("security", "allow_embedding", fallback=False)
        # Faults a deployed file cannot show, off by default.
        self.database = "ok"
        self.datasource_healthy = True
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
                        return self.send_json(200, {"id": 1, "uid": api.datasource_uid, "orgId": 1,
                                                    "name": api.datasource, "type": "prometheus", "access": "proxy",
                                                    "isDefault": True})
                    if api.logs_uid and path.startswith(f"/api/datasources/uid/{api.logs_uid}/"):
                        return self.send_json(*api.logs_reply(path.rsplit(f"/{api.logs_uid}/", 1)[1],
                                                              self.path.partition("?")[2]))
                    if path == f"/api/datasources/uid/{api.datasource_uid}/health":
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

    def logs_reply(self, path: str, query: str) -> tuple[int, dict]:
        """Grafana's answer for the Loki datasource's `path` (health, resources/label/NAME/values)."""
        try:
            if path == "health":
                with urllib.request.urlopen(f"{self.logs_store}/health", timeout=5):  # noqa: S310
                    return 200, {"status": "OK", "message": "Successfully queried the Loki API."}
            if path.startswith("resources/label/") and path.endswith("/values"):
                return 200, {"status": "success", "data": self._label_values(path.split("/")[2], query)}
        except (urllib.error.URLError, OSError, ValueError) as error:
            return 400, {"status": "ERROR", "message": f"There was an error returned querying the Loki API.: {error}"}
        return 404, {"message": "Not found"}

    def _label_values(self, label: str, query: str) -> list[str]:
        if not self.logs_store:
            raise ValueError("no store behind the logs datasource")
        window = dict(urllib.parse.parse_qsl(query))  # Loki's start and end: Unix nanoseconds
        args = {"query": "*", "field": label, **{k: str(int(window[k]) / 1e9) for k in ("start", "end") if k in window}}
        url = f"{self.logs_store}/select/logsql/field_values?" + urllib.parse.urlencode(args)
        with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310
            return sorted(v["value"] for v in json.loads(reply.read())["values"])

    def start(self) -> GrafanaApi:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


def deployed_grafana(run: Run, port: int = 0) -> GrafanaApi:
    """A stand-in answering as the Grafana `run` (a whole stack under mocks) deploys: its ConfigMaps on
    Kubernetes, its files on the aws head, and the admin password the stack exports."""
    password = reveal(run.outputs["grafanaAdminPassword"])
    if run.doctor["platform"] == "aws":
        files = run.config()
        dashboards = [text for path, text in files.items() if path.startswith(f"{BASE}/dashboards/")]
        return GrafanaApi(files[f"{BASE}/grafana/config/grafana.ini"],
                          files[f"{BASE}/grafana/provisioning/datasources/datasources.yaml"], dashboards, password,
                          port)
    maps = {r.name: r.plain["data"] for r in run.of_type("kubernetes:core/v1:ConfigMap")}
    dashboards = [text for name, data in maps.items() if name.startswith("grafana-dashboard-")
                  for text in data.values()]
    return GrafanaApi(maps["grafana-config"]["grafana.ini"], maps["grafana-provisioning"]["datasources.yaml"],
                      dashboards, password, port)
