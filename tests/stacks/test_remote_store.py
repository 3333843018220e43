"""Stores beyond one Prometheus on both stacks: remote write with credentials as secret files, agent mode
(Grafana and Ray query the store), Amazon Managed Prometheus. Every deployed prometheus.yml goes through
the real promtool; credentials appear only inside Pulumi secrets."""

from __future__ import annotations

import base64
import json
import subprocess

import kubernetes_validate
import pytest
import yaml

from components.builders import prometheus_config, remote_write
from components.builders.dashboard_catalogue import DASHBOARDS_ROOT
from components.builders.head_layout import BASE
from components.builders.sizing import size
from components.constants import GRAFANA_DATASOURCE_CREDENTIAL_FILE, GRAFANA_UID, PROMETHEUS_UID
from stacks.settings import ConfigError
from support.manifests import KUBERNETES_VERSION, kubernetes_objects, manifest
from support.promql import AGENT_RULES_FOUND, RULES_FOUND
from support.pulumi_internals import hide, is_secret
from support.stacks import Run, run_stack
from support.tools import compose_config, compose_tools, promtool

PASSWORD = "store-password-0001"
TOKEN = "store-token-0002"
QUERY_TOKEN = "query-token-0003"
CREDENTIALS = (PASSWORD, TOKEN, QUERY_TOKEN)
MIMIR = "https://mimir.example.com/api/v1/push"
VM = "https://vm.example.com/api/v1/write"
AMP = "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1/api/v1/remote_write"
QUERY = "https://mimir.example.com/prometheus"
WRITES = [{"url": MIMIR, "auth": {"type": "basic", "username": "ray", "password": PASSWORD}},
          {"url": VM, "auth": {"type": "bearer", "token": TOKEN}},
          {"url": AMP, "auth": {"type": "sigv4", "region": "us-west-2"}},
          {"url": "http://thanos-receive.monitoring:19291/api/v1/receive"}]
AGENT = dict(prometheusAgent="true", grafanaQueryUrl=QUERY)
QUERY_AUTH = {"grafanaQueryAuth": {"type": "bearer", "token": QUERY_TOKEN}}


def ok(result: Run) -> Run:
    assert result.error is None, repr(result.error)
    return result


@pytest.fixture(scope="module")
def k8s_write() -> Run:
    return ok(run_stack("minikube", secrets={"remoteWrite": WRITES}))


@pytest.fixture(scope="module")
def k8s_agent() -> Run:
    return ok(run_stack("minikube", secrets={"remoteWrite": WRITES[:2], **QUERY_AUTH}, **AGENT))


@pytest.fixture(scope="module")
def aws_write() -> Run:
    return ok(run_stack("aws", secrets={"remoteWrite": WRITES, **QUERY_AUTH}, grafanaQueryUrl=QUERY))


@pytest.fixture(scope="module")
def aws_agent() -> Run:
    return ok(run_stack("aws", secrets={"remoteWrite": WRITES[:2], **QUERY_AUTH}, **AGENT))


@pytest.fixture(scope="module")
def aws_managed() -> Run:
    return ok(run_stack("aws", managedPrometheus="true", retentionTime="1d"))


def assert_no_plain_credential(result: Run) -> None:
    for resource in result.resources:
        text = json.dumps(hide(resource.inputs))
        leaked = [c for c in CREDENTIALS if c in text or base64.b64encode(c.encode()).decode() in text]
        assert not leaked, f"{resource.type} {resource.name} shows {leaked} outside a secret"
    outputs = json.dumps(hide(result.outputs))
    assert not [c for c in CREDENTIALS if c in outputs]


def promtool_check(text: str, tmp_path, agent: bool = False, rules: str | None = None) -> str:
    config = yaml.safe_load(text)
    if rules is not None:
        (tmp_path / "ray-alerts.yml").write_text(rules)
        config["rule_files"] = [str(tmp_path / "ray-alerts.yml")]
    for job in config["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [str(tmp_path / "sd.json")]
    path = tmp_path / "prometheus.yml"
    path.write_text(prometheus_config.render(config))
    result = subprocess.run([promtool(), "check", "config", *(["--agent"] if agent else []), str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


# --- Kubernetes ------------------------------------------------------------------------------


def k8s_prometheus(result: Run) -> tuple[dict, dict, dict]:
    data = result.one("kubernetes:core/v1:ConfigMap", "prometheus-config").plain["data"]
    pod = result.one("kubernetes:apps/v1:Deployment", "prometheus-deployment").plain["spec"]["template"]["spec"]
    return data, yaml.safe_load(data["prometheus.yml"]), pod


def test_kubernetes_remote_write_reads_credentials_from_a_mounted_secret(k8s_write, tmp_path):
    data, config, pod = k8s_prometheus(k8s_write)
    basic, bearer, sigv4, plain = config["remote_write"]
    assert [w["url"] for w in config["remote_write"]] == [w["url"] for w in WRITES]
    assert basic["basic_auth"] == {"username": "ray", "password_file": f"{remote_write.SECRETS_DIR}/0-password"}
    assert bearer["authorization"] == {"type": "Bearer", "credentials_file": f"{remote_write.SECRETS_DIR}/1-token"}
    assert sigv4["sigv4"] == {"region": "us-west-2"} and "sigv4" not in plain and "basic_auth" not in plain
    # The queue follows the sizing model (rayNodes 10 at 5 s).
    assert basic["queue_config"] == remote_write.queue_config(size(10, "5s", "15d").samples_per_second)
    secret = k8s_write.one("kubernetes:core/v1:Secret", "prometheus-remote-write")
    assert is_secret(secret.inputs["stringData"])
    assert secret.plain["stringData"] == {"0-password": PASSWORD, "1-token": TOKEN}
    (volume,) = [v for v in pod["volumes"] if v["name"] == "remote-write"]
    assert volume["secret"]["secretName"] == "prometheus-remote-write"
    (container,) = pod["containers"]
    mount = {"name": "remote-write", "mountPath": remote_write.SECRETS_DIR, "readOnly": True}
    assert mount in container["volumeMounts"]
    assert "--storage.tsdb.retention.time=15d" in container["args"] and "--agent" not in container["args"]
    assert "SUCCESS" in promtool_check(data["prometheus.yml"], tmp_path, rules=data["ray-alerts.yml"])
    assert_no_plain_credential(k8s_write)


def test_kubernetes_agent_mode(k8s_agent, tmp_path):
    data, config, pod = k8s_prometheus(k8s_agent)
    (container,) = pod["containers"]
    assert "--agent" in container["args"] and "--storage.agent.path=/prometheus" in container["args"]
    assert not [a for a in container["args"] if a.startswith("--storage.tsdb")]
    assert "rule_files" not in config and "alerting" not in config and set(data) == {"prometheus.yml"}
    promtool_check(data["prometheus.yml"], tmp_path, agent=True)
    # The Ray head queries the store, sending the query credential from a Secret in its own namespace.
    env = {e["name"]: e for e in k8s_agent.one("kubernetes:ray.io/v1:RayCluster", "ray-cluster-cluster")
           .plain["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["RAY_PROMETHEUS_HOST"]["value"] == QUERY
    assert env["RAY_PROMETHEUS_HEADERS"]["valueFrom"] == {
        "secretKeyRef": {"name": "ray-prometheus-headers", "key": "headers"}}
    headers = k8s_agent.one("kubernetes:core/v1:Secret", "ray-query-headers-ray-system")
    assert headers.plain["metadata"]["namespace"] == "ray-system" and is_secret(headers.inputs["stringData"])
    assert json.loads(headers.plain["stringData"]["headers"]) == {"Authorization": f"Bearer {QUERY_TOKEN}"}
    # Grafana reads the store too, its token read from a file when it provisions.
    grafana = k8s_agent.one("kubernetes:core/v1:ConfigMap", "grafana-provisioning").plain["data"]
    (datasource,) = [d for d in yaml.safe_load(grafana["datasources.yaml"])["datasources"] if d["type"] == "prometheus"]
    assert datasource["url"] == QUERY and datasource["jsonData"] == {"httpHeaderName1": "Authorization"}
    assert datasource["secureJsonData"] == {
        "httpHeaderValue1": f"Bearer $__file{{{GRAFANA_DATASOURCE_CREDENTIAL_FILE}}}"}
    credential = k8s_agent.one("kubernetes:core/v1:Secret", "grafana-datasource")
    assert credential.plain["stringData"] == {"datasource-credential": QUERY_TOKEN}
    volumes = k8s_agent.one("kubernetes:apps/v1:Deployment", "grafana-deployment").plain["spec"]["template"]["spec"][
        "volumes"]
    (admin,) = [v for v in volumes if v["name"] == "admin"]
    assert [s["secret"]["name"] for s in admin["projected"]["sources"]] == ["grafana-admin-generated",
                                                                                "grafana-datasource-generated"]
    # The rules it no longer evaluates are an output, for the store's ruler.
    rules = tmp_path / "ray-rules.yml"
    rules.write_text(k8s_agent.outputs["alertRules"])
    checked = subprocess.run([promtool(), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and AGENT_RULES_FOUND in checked.stdout, checked.stdout + checked.stderr
    assert_no_plain_credential(k8s_agent)


def test_kubernetes_objects_stay_strictly_valid(k8s_write, k8s_agent):
    for result in (k8s_write, k8s_agent):
        for resource in kubernetes_objects(result):
            try:
                kubernetes_validate.validate(manifest(resource), KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{resource.type} {resource.name}: {error.message} at {list(error.path)}")


def test_kubernetes_grafana_signs_sigv4_queries_and_ray_keeps_our_prometheus():
    result = ok(run_stack("minikube", secrets={"remoteWrite": WRITES[2:3]}, grafanaQueryUrl=QUERY,
                          grafanaQueryAuth={"type": "sigv4", "region": "us-west-2"}, retentionTime="1d"))
    grafana = result.one("kubernetes:core/v1:ConfigMap", "grafana-provisioning").plain["data"]
    (datasource,) = [d for d in yaml.safe_load(grafana["datasources.yaml"])["datasources"] if d["type"] == "prometheus"]
    assert datasource["url"] == QUERY and datasource["jsonData"]["sigV4Auth"] is True
    assert datasource["jsonData"]["sigV4Region"] == "us-west-2" and "secureJsonData" not in datasource
    ini = result.one("kubernetes:core/v1:ConfigMap", "grafana-config").plain["data"]["grafana.ini"]
    assert "[auth]\nsigv4_auth_enabled = true" in ini
    env = {e["name"]: e.get("value") for e in result.one("kubernetes:ray.io/v1:RayCluster", "ray-cluster-cluster")
           .plain["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["RAY_PROMETHEUS_HOST"] == "http://prometheus.monitoring.svc:9090"
    assert "RAY_PROMETHEUS_HEADERS" not in env
    assert not result.of_type("kubernetes:core/v1:Secret") or not [
        r for r in result.of_type("kubernetes:core/v1:Secret") if r.name in ("grafana-datasource", "ray-query-headers")]


def test_without_stores_nothing_changes(minikube):
    data, config, pod = k8s_prometheus(minikube)
    assert "remote_write" not in config and "remote-write" not in [v["name"] for v in pod["volumes"]]
    assert "alertRules" not in minikube.outputs


# --- aws -------------------------------------------------------------------------------------


def parameters(result: Run) -> dict[str, str]:
    """SSM SecureString name -> value (the manifest's serial, a plain String digest, aside)."""
    found = {}
    for parameter in result.of_type("aws:ssm/parameter:Parameter"):
        if parameter.plain["name"].endswith("/manifest-serial"):
            assert parameter.plain["type"] == "String" and len(parameter.plain["value"]) == 64
            continue
        assert parameter.plain["type"] == "SecureString" and is_secret(parameter.inputs["value"])
        found[parameter.plain["name"]] = parameter.plain["value"]
    return found


def head_policy(result: Run) -> list[dict]:
    return json.loads(result.one("aws:iam/rolePolicy:RolePolicy", "head-role-policy").plain["policy"])["Statement"]


def test_aws_remote_write_credentials_are_secure_strings_read_into_files(aws_write, tmp_path):
    files = aws_write.config()
    text = files[f"{BASE}/prometheus/prometheus.yml"]
    config = yaml.safe_load(text)
    assert [w["url"] for w in config["remote_write"]] == [w["url"] for w in WRITES]
    assert config["remote_write"][0]["basic_auth"]["password_file"] == f"{remote_write.SECRETS_DIR}/0-password"
    assert RULES_FOUND in promtool_check(text, tmp_path, rules=files[f"{BASE}/prometheus/ray-alerts.yml"])
    values = parameters(aws_write)
    assert values["/ray-monitoring/aws/ray-cluster/prometheus/remote-write/0-password"] == PASSWORD
    assert values["/ray-monitoring/aws/ray-cluster/prometheus/remote-write/1-token"] == TOKEN
    assert values["/ray-monitoring/aws/ray-cluster/grafana/datasource-credential"] == QUERY_TOKEN
    secrets = {s["path"]: s for s in aws_write.manifest()["secrets"]}
    # The Compose file mounts BASE/prometheus at Prometheus' config directory: the files land at SECRETS_DIR.
    assert {"/etc/prometheus:ro"} <= {v.split(":", 1)[1] for v in yaml.safe_load(
        files[f"{BASE}/compose.yaml"])["services"]["prometheus"]["volumes"] if v.startswith(f"{BASE}/prometheus:")}
    for name in ("0-password", "1-token"):
        entry = secrets[f"{BASE}/prometheus/remote-write/{name}"]
        assert (entry["uid"], entry["mode"], entry["reload"]) == (PROMETHEUS_UID, "0400", "prometheus")
    grafana = secrets[f"{BASE}/secrets/datasource-credential"]
    assert (grafana["uid"], grafana["reload"]) == (GRAFANA_UID, "grafana-datasources")
    (read,) = [s for s in head_policy(aws_write) if s["Sid"] == "ReadParameters"]
    # password, secret key, two remote-write credentials, the datasource's, Ray's token, the signing key
    assert len(read["Resource"]) == 7
    datasource, logs = yaml.safe_load(files[f"{BASE}/grafana/provisioning/datasources/datasources.yaml"])["datasources"]
    assert logs["uid"] == "ray-logs"  # Loki's, beside whichever store Grafana queries for metrics
    assert datasource["url"] == QUERY
    assert_no_plain_credential(aws_write)


def test_aws_agent_mode_hands_ray_its_headers_as_a_compose_secret(aws_agent, tmp_path):
    files = aws_agent.config()
    compose = yaml.safe_load(files[f"{BASE}/compose.yaml"])
    prometheus = compose["services"]["prometheus"]["command"]
    assert "--agent" in prometheus and not [a for a in prometheus if a.startswith("--storage.tsdb")]
    config = yaml.safe_load(files[f"{BASE}/prometheus/prometheus.yml"])
    assert "rule_files" not in config and "alerting" not in config
    promtool_check(files[f"{BASE}/prometheus/prometheus.yml"], tmp_path, agent=True)
    head = compose["services"]["ray-head"]
    assert head["environment"]["RAY_PROMETHEUS_HOST"] == QUERY and "RAY_PROMETHEUS_HEADERS" not in head["environment"]
    assert head["secrets"] == ["ray-prometheus-headers", "ray-auth-token"]
    assert compose["secrets"] == {"ray-prometheus-headers": {"file": f"{BASE}/ray/prometheus-headers"},
                                  "ray-auth-token": {"file": f"{BASE}/ray/auth-token"}}
    assert json.loads(parameters(aws_agent)["/ray-monitoring/aws/ray-cluster/ray/prometheus-headers"]) == {
        "Authorization": f"Bearer {QUERY_TOKEN}"}
    (entry,) = [s for s in aws_agent.manifest()["secrets"] if s["path"] == f"{BASE}/ray/prometheus-headers"]
    assert (entry["uid"], entry["mode"], entry["reload"]) == (1000, "0400", "ray-head-restart")
    assert "alertRules" in aws_agent.outputs
    assert_no_plain_credential(aws_agent)


def test_aws_agent_head_starts_ray_with_the_headers_from_its_secret(aws_agent, tmp_path):
    """The head's start command, as Compose v2 renders it, run by a real sh with a stand-in `ray`."""
    directory = tmp_path / "head"
    directory.mkdir()
    compose_text = aws_agent.config()[f"{BASE}/compose.yaml"]
    headers = tmp_path / "headers"
    headers.write_text(json.dumps({"Authorization": "Bearer a'b\"c $HOME"}))
    (directory / "compose.yaml").write_text(compose_text.replace(f"{BASE}/ray/prometheus-headers", str(headers)))
    (directory / ".env").write_text("RAY_GRAFANA_IFRAME_HOST=http://localhost:3000\n")
    for compose_tool in compose_tools():
        rendered = subprocess.run([compose_tool, "-f", str(directory / "compose.yaml"), "config"], cwd=directory,
                                  capture_output=True, text=True, timeout=120)
        assert rendered.returncode == 0, rendered.stderr
        command = yaml.safe_load(rendered.stdout)["services"]["ray-head"]["command"]
        assert command[:2] == ["sh", "-c"]
        fake = tmp_path / "bin"
        fake.mkdir(exist_ok=True)
        (fake / "ray").write_text('#!/bin/sh\nprintf "%s" "$RAY_PROMETHEUS_HEADERS" > "$OUT"\n'
                                  'echo "$@" > "$OUT.args"\n')
        (fake / "ray").chmod(0o755)
        # `config` writes a Compose file again ($$ kept); the container gets $ for each $$.
        script = command[2].replace("$$", "$").replace("/run/secrets/ray-prometheus-headers", str(headers))
        out = tmp_path / "out"
        run = subprocess.run(["sh", "-c", script], env={"PATH": f"{fake}:/usr/bin:/bin", "OUT": str(out)},
                             capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
        assert out.read_text() == headers.read_text(), compose_tool
        assert (tmp_path / "out.args").read_text().split()[:2] == ["start", "--head"]


def test_aws_compose_files_with_stores_pass_docker_compose_config(aws_write, aws_agent, aws_managed, tmp_path):
    directories = []
    for name, result in {"write": aws_write, "agent": aws_agent, "managed": aws_managed}.items():
        directory = tmp_path / name
        directory.mkdir()
        (directory / "compose.yaml").write_text(result.config()[f"{BASE}/compose.yaml"])
        (directory / ".env").write_text("RAY_GRAFANA_IFRAME_HOST=http://localhost:3000\n")
        directories.append(directory)
    for (directory, compose_tool), checked in compose_config(directories).items():
        assert checked.returncode == 0, f"{directory.name} ({compose_tool}): {checked.stdout}{checked.stderr}"


def test_aws_managed_prometheus(aws_managed, tmp_path):
    (workspace,) = aws_managed.of_type("aws:amp/workspace:Workspace")
    assert workspace.plain["alias"] == "ray-cluster"
    endpoint = "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-managed-prometheus-workspace"
    files = aws_managed.config()
    text = files[f"{BASE}/prometheus/prometheus.yml"]
    (write,) = yaml.safe_load(text)["remote_write"]
    assert write["url"] == f"{endpoint}/api/v1/remote_write" and write["sigv4"] == {"region": "us-west-2"}
    promtool_check(text, tmp_path, rules=files[f"{BASE}/prometheus/ray-alerts.yml"])
    datasource, logs = yaml.safe_load(files[f"{BASE}/grafana/provisioning/datasources/datasources.yaml"])["datasources"]
    assert logs["uid"] == "ray-logs"  # Loki's, beside whichever store Grafana queries for metrics
    assert datasource["url"] == endpoint
    assert datasource["jsonData"] == {"sigV4Auth": True, "sigV4AuthType": "default", "sigV4Region": "us-west-2",
                                      "httpMethod": "POST"}
    assert "[auth]\nsigv4_auth_enabled = true" in files[f"{BASE}/grafana/config/grafana.ini"]
    # Ray's dashboard cannot sign SigV4: it keeps the head's Prometheus (here with a 1 d retention).
    head = yaml.safe_load(files[f"{BASE}/compose.yaml"])["services"]
    assert head["ray-head"]["environment"]["RAY_PROMETHEUS_HOST"] == "http://127.0.0.1:9090"
    assert "--storage.tsdb.retention.time=1d" in head["prometheus"]["command"]
    # The head's role may write and query this workspace, and nothing else of AMP.
    statements = {s["Sid"]: s for s in head_policy(aws_managed)}
    workspace = ["arn:aws:aps:us-west-2:123456789012:workspace/ws-managed-prometheus-workspace"]
    assert statements["RemoteWrite"]["Resource"] == workspace == statements["QueryWorkspaces"]["Resource"]
    assert statements["RemoteWrite"]["Action"] == ["aps:RemoteWrite"]
    assert sorted(statements["QueryWorkspaces"]["Action"]) == sorted(
        ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"])
    assert not [s for s in head_policy(aws_managed) if "aps:*" in json.dumps(s)]
    worker = json.loads(aws_managed.one("aws:iam/rolePolicy:RolePolicy", "worker-role-policy").plain["policy"])
    assert "aps:" not in json.dumps(worker)
    assert aws_managed.outputs["managedPrometheusQueryUrl"] == endpoint


def test_aws_store_settings_change_files_not_the_head(aws, aws_write, aws_managed):
    """Turning stores on is applied in place: the head instance's inputs are those of the default stack."""
    def head(result: Run) -> dict:  # compared as test_aws.py's in-place settings are
        return result.one("aws:ec2/instance:Instance", "head-instance").inputs

    assert head(aws_write) == head(aws) == head(aws_managed)
    assert aws_write.manifest() != aws.manifest() != aws_managed.manifest()


OTHER_WORKSPACE = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-0a1b2c3d-4e5f"
STORE_ROLE = "arn:aws:iam::210987654321:role/ray-metrics-writer"


def test_sigv4_to_a_workspace_of_the_users_grants_exactly_that_workspace():
    # AMP user guide, "IAM permissions": aps:RemoteWrite and aps:QueryMetrics (with GetSeries,
    # GetLabels, GetMetricMetadata) are granted per workspace ARN, arn:aws:aps:REGION:ACCOUNT:workspace/ID;
    # the role had them only on the managed workspace, so the store answered 403.
    result = ok(run_stack("aws", remoteWrite=[{"url": f"{OTHER_WORKSPACE}/api/v1/remote_write",
                                               "auth": {"type": "sigv4", "region": "eu-west-1"}}],
                          grafanaQueryUrl=OTHER_WORKSPACE, grafanaQueryAuth={"type": "sigv4", "region": "eu-west-1"}))
    statements = {s["Sid"]: s for s in head_policy(result)}
    arn = ["arn:aws:aps:eu-west-1:123456789012:workspace/ws-0a1b2c3d-4e5f"]
    assert statements["RemoteWrite"] == {"Sid": "RemoteWrite", "Effect": "Allow", "Action": ["aps:RemoteWrite"],
                                         "Resource": arn}
    assert statements["QueryWorkspaces"]["Resource"] == arn
    assert "AssumeStoreRoles" not in statements


def test_sigv4_with_a_role_assumes_that_role_only():
    # Prometheus' sigv4 config takes role_arn; Grafana's SigV4 datasource takes sigV4AssumeRoleArn.
    auth = {"type": "sigv4", "region": "us-west-2", "roleArn": STORE_ROLE}
    result = ok(run_stack("aws", remoteWrite=[{"url": "https://metrics.example.com/api/v1/push", "auth": auth}],
                          grafanaQueryUrl="https://metrics.example.com/prometheus", grafanaQueryAuth=auth))
    statements = {s["Sid"]: s for s in head_policy(result)}
    assert statements["AssumeStoreRoles"] == {"Sid": "AssumeStoreRoles", "Effect": "Allow",
                                              "Action": ["sts:AssumeRole"], "Resource": [STORE_ROLE]}
    assert "RemoteWrite" not in statements and "QueryWorkspaces" not in statements
    files = result.config()
    (write,) = yaml.safe_load(files[f"{BASE}/prometheus/prometheus.yml"])["remote_write"]
    assert write["sigv4"] == {"region": "us-west-2", "role_arn": STORE_ROLE}
    datasource, logs = yaml.safe_load(files[f"{BASE}/grafana/provisioning/datasources/datasources.yaml"])["datasources"]
    assert logs["uid"] == "ray-logs"  # Loki's, beside whichever store Grafana queries for metrics
    assert datasource["jsonData"]["sigV4AssumeRoleArn"] == STORE_ROLE


def test_sigv4_to_a_url_that_names_no_workspace_and_no_role_is_refused():
    result = run_stack("aws", remoteWrite=[{"url": "https://metrics.example.com/api/v1/push",
                                            "auth": {"type": "sigv4", "region": "us-west-2"}}])
    assert isinstance(result.error, ConfigError), result.error
    assert "remoteWrite[0].auth.roleArn" in str(result.error) and "no IAM grant" in str(result.error)
    assert result.resources == []
    bad = run_stack("aws", remoteWrite=[{"url": AMP, "auth": {"type": "sigv4", "region": "us-west-2",
                                                              "roleArn": "writer"}}])
    assert isinstance(bad.error, ConfigError) and "must be an IAM role ARN" in str(bad.error)


def test_anonymous_viewers_of_a_shared_store_are_warned_about(aws_write, k8s_write):
    # Grafana docs, "Roles and permissions": the Viewer role may query every datasource of its org.
    for result in (aws_write, run_stack("minikube", secrets={"remoteWrite": WRITES, **QUERY_AUTH},
                                        grafanaQueryUrl=QUERY)):
        assert any("anonymous Grafana viewers" in line and QUERY in line for line in result.logs), result.logs
    assert not any("anonymous Grafana viewers" in line for line in k8s_write.logs), "no grafanaQueryUrl: no warning"


def test_ray_takes_its_query_headers_from_its_environment_only():
    # Ray 2.60, ray/dashboard/modules/metrics/metrics_head.py: the dashboard reads RAY_PROMETHEUS_HEADERS from
    # os.environ (no file, no other source), so in agent mode the credential is in the environment every Ray
    # process on the head inherits, a job's included (docs/security.md says so: give it a read-only one).
    import inspect
    import re

    from ray.dashboard.modules.metrics import metrics_head

    assert metrics_head.PROMETHEUS_HEADERS_ENV_VAR == "RAY_PROMETHEUS_HEADERS"
    code = re.sub(r"\s+", "", inspect.getsource(metrics_head))
    reads = code.count("os.environ.get(PROMETHEUS_HEADERS_ENV_VAR")
    # Every other mention is its definition or the error message that names it.
    assert reads == 2 and code.count("PROMETHEUS_HEADERS_ENV_VAR") == reads + 2


def test_in_agent_mode_ray_dashboards_are_served_as_generated(k8s_agent, aws_agent):
    """No rule runs beside an agent, and the store's ruler is the user's: Ray's Metrics tab must not depend on it."""
    generated = (DASHBOARDS_ROOT / "ray" / "default_grafana_dashboard.json").read_text()
    served = k8s_agent.one("kubernetes:core/v1:ConfigMap", "grafana-dashboard-ray-default").plain["data"]
    assert served["ray-default.json"] == generated
    assert aws_agent.config()[f"{BASE}/dashboards/ray-default.json"] == generated
    for agent in (k8s_agent, aws_agent):
        assert [g["name"] for g in yaml.safe_load(agent.outputs["alertRules"])["groups"]] == [
            "ray", "ray-monitoring-overview"]
