"""`python -m doctor`: after `pulumi up`, proves the Ray Dashboard's charts will appear, or says what to fix.

  venv/bin/python -m doctor --stack minikube          # reads the stack's outputs, port-forwards itself
  venv/bin/python -m doctor --prometheus-url http://localhost:9090 --ray-dashboard-url http://localhost:8265

One line per check, ✔ or ×, and for each × its cause and fix; `--json` for CI. Exit status 0 only
when every check that ran passed. Services whose URL is not known are reported as not run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from components.builders.dashboard_catalogue import load_dashboards
from doctor.access import ForwardFailed, PortForwards, StackAccessError, stack_outputs
from doctor.checks import (
    GRAFANA_CHECKS,
    PROMETHEUS_CHECKS,
    RAY_CHECKS,
    Expectations,
    Findings,
    Result,
    grafana,
    not_run,
    prometheus,
    ray_dashboard,
)
from doctor.http import Http, HttpError
from doctor.logs import LOGS_CHECKS, NODE_NAMES, logs, node_names


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m doctor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", help="read the stack's outputs (pulumi stack output) and reach its services")
    parser.add_argument("--context", help="kubectl context for the port-forwards (default: the current one)")
    parser.add_argument("--prometheus-url")
    parser.add_argument("--ray-dashboard-url")
    parser.add_argument("--grafana-url")
    parser.add_argument("--grafana-password-file", type=Path, help="Grafana's admin password, for the datasource check")
    parser.add_argument("--ray-token-file", type=Path, help="Ray's token, where the cluster runs token authentication")
    parser.add_argument("--expect-datasource", help="the Grafana datasource name the head should use")
    parser.add_argument("--expect-iframe-host", help="the RAY_GRAFANA_IFRAME_HOST the head should report")
    parser.add_argument("--ray-nodes", type=int, help="rayNodes: the sizing plan to compare series against")
    parser.add_argument("--prometheus-memory-limit", help="Prometheus' memory limit, such as 1Gi")
    parser.add_argument("--remote-writes", type=int, default=0,
                        help="how many stores Prometheus writes to (remoteWrite, managedPrometheus)")
    parser.add_argument("--prometheus-agent", action="store_true", help="Prometheus runs in agent mode")
    parser.add_argument("--expect-logs", choices=sorted(NODE_NAMES),
                        help="the stack ships Ray's logs from this platform's nodes: check they arrive")
    parser.add_argument("--expect-logs-from", default="", metavar="MATCHERS",
                        help='only these nodes ship them, as label matchers (ray_node_type="head")')
    parser.add_argument("--json", action="store_true", help="print a JSON list of {check, ok, detail, fix}")
    return parser.parse_args(argv)


def dashboard_uids(ray_version: str | None = None) -> tuple[str, ...]:
    """The uids of the dashboards Grafana serves for `ray_version` (None: the pinned Ray's)."""
    return tuple(d.uid for d in load_dashboards(ray_version))


def expectations(doctor: dict, stack: str) -> Expectations:
    """What the stack's `doctor` output says it set up."""
    return Expectations(
        datasource_name=doctor["datasourceName"], iframe_host=doctor["iframeHost"],
        dashboard_uids=dashboard_uids(doctor.get("rayDashboardsVersion")), ray_nodes=doctor["rayNodes"],
        scrape_interval=doctor["scrapeInterval"], retention_time=doctor["retentionTime"],
        prometheus_memory_limit=doctor["prometheusMemoryLimit"], node_exporter=doctor["nodeExporter"],
        restart_command=doctor["restartCommand"], config_hint=f"pulumi config set --stack {stack}",
        remote_writes=doctor.get("remoteWrites", 0), prometheus_agent=doctor.get("prometheusAgent", False),
        launched_nodes=doctor.get("launchedNodes"), launched_fix=doctor.get("launchedFix", ""),
        logs=doctor["platform"] if doctor.get("logs") else None, logs_from=doctor.get("logsFrom", ""))


def run_checks(http: Http, urls: dict[str, str | None], password: str | None,
               expect: Expectations, ray_token: str | None = None,
               unreached: dict[str, str] | None = None) -> dict[str, list[Result]]:
    """`unreached`: why a service has no URL (its port-forward failed); its checks are reported as not run."""
    why = {"rayDashboard": "no Ray Dashboard URL given", "prometheus": "no Prometheus URL given",
           "grafana": "no Grafana URL given", **(unreached or {})}
    findings = Findings()
    sections: dict[str, list[Result]] = {}
    # Prometheus' reachability first, so a failed head health check can tell which side is wrong;
    # the Ray Dashboard's live nodes before the scrape comparison.
    prometheus_url, ray_url, grafana_url = urls.get("prometheus"), urls.get("rayDashboard"), urls.get("grafana")
    if prometheus_url:
        try:
            findings.prometheus_reachable = http.get(f"{prometheus_url}/-/ready").status == 200
        except Exception:  # noqa: BLE001 reported by the Prometheus checks themselves
            findings.prometheus_reachable = False
    sections["Ray Dashboard"] = (ray_dashboard(http, ray_url, expect, findings, ray_token) if ray_url
                                 else not_run(RAY_CHECKS, why["rayDashboard"]))
    sections["Prometheus"] = (prometheus(http, prometheus_url, expect, findings) if prometheus_url
                              else not_run(PROMETHEUS_CHECKS, why["prometheus"]))
    sections["Grafana"] = (grafana(http, grafana_url, password, expect) if grafana_url
                           else not_run(GRAFANA_CHECKS, why["grafana"]))
    if expect.logs:
        sections["Logs"] = _logs(http, prometheus_url, grafana_url, password, expect, findings, why["grafana"])
    return sections


def _logs(http: Http, prometheus_url: str | None, grafana_url: str | None, password: str | None,
          expect: Expectations, findings: Findings, no_grafana: str) -> list[Result]:
    """Through Grafana's logs datasource; the nodes to expect lines from are those Prometheus sees."""
    if not grafana_url:
        return not_run(LOGS_CHECKS, no_grafana)
    if prometheus_url and not expect.prometheus_agent and expect.logs:
        try:
            findings.node_names = node_names(http, prometheus_url, expect.logs, expect.logs_from)
        except (HttpError, KeyError):  # Prometheus' own checks say why it did not answer
            findings.node_names = None
    return logs(http, grafana_url, password, expect, findings)


def render(sections: dict[str, list[Result]]) -> str:
    lines = []
    for section, results in sections.items():
        lines.append(section)
        for r in results:
            mark = {True: "✔", False: "×", None: "-"}[r.ok]
            lines.append(f"  {mark} {r.check}" + (f": {r.detail}" if r.detail else "")
                         + (" (not run)" if r.ok is None else ""))
            if r.ok is False and r.fix:
                lines.append(f"      fix: {r.fix}")
    counts = {outcome: sum(r.ok is outcome for rs in sections.values() for r in rs) for outcome in (True, False, None)}
    lines.append(f"checks: {counts[True]} ok, {counts[False]} failing, {counts[None]} not run")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    password = args.grafana_password_file.read_text().strip() if args.grafana_password_file else None
    ray_token = args.ray_token_file.read_text().strip() if args.ray_token_file else None
    urls = {"prometheus": args.prometheus_url, "rayDashboard": args.ray_dashboard_url, "grafana": args.grafana_url}
    expect = Expectations(datasource_name=args.expect_datasource, iframe_host=args.expect_iframe_host,
                          dashboard_uids=dashboard_uids(), ray_nodes=args.ray_nodes,
                          prometheus_memory_limit=args.prometheus_memory_limit, remote_writes=args.remote_writes,
                          prometheus_agent=args.prometheus_agent, logs=args.expect_logs,
                          logs_from=args.expect_logs_from)
    forwards = PortForwards(args.context)
    access: list[Result] = []  # one failed result per port-forward that did not start
    unreached: dict[str, str] = {}
    try:
        if args.stack:
            outputs = stack_outputs(args.stack)
            doctor = outputs["doctor"]
            expect = expectations(doctor, args.stack)
            password = password or outputs.get("grafanaAdminPassword")
            ray_token = ray_token or outputs.get("rayAuthToken")
            for name, service in doctor.get("services", {}).items():
                try:
                    urls[name] = urls.get(name) or forwards.open(service["namespace"], service["service"],
                                                                 service["port"])
                except ForwardFailed as failed:
                    access.append(Result(f"port-forward to {failed.service}", False, failed.detail, failed.fix))
                    unreached[name] = f"its port-forward did not start ({failed.detail})"
            for name, url in doctor.get("urls", {}).items():
                urls[name] = urls.get(name) or url
        sections = run_checks(Http(), urls, password, expect, ray_token, unreached)
    except (StackAccessError, subprocess.SubprocessError, KeyError) as error:
        if args.json:  # still a JSON document, of one failed result
            print(json.dumps([vars(Result("reach the stack", False, str(error)))], indent=2))
        print(f"doctor: {error}", file=sys.stderr)
        return 2
    finally:
        forwards.close()
    if access:
        sections = {"Access": access, **sections}
    if args.json:
        print(json.dumps([vars(r) for results in sections.values() for r in results], indent=2))
    else:
        print(render(sections))
    return 1 if any(r.ok is False for results in sections.values() for r in results) else 0

if __name__ == "__main__":
    sys.exit(main())
