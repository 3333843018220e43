"""Ray's logs to the user's own Loki (logsUrl) on both stacks: no Loki deployed, every collector sends OTLP
there with the header logsAuth gives, read from a file only the collector sees; Grafana reads it with
logsQueryAuth (or logsAuth). Credentials appear only inside Pulumi secrets."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from components.builders.head_layout import BASE
from components.builders.logs import sidecar
from components.builders.logs.collector_config import NODE_ENV, NODE_TYPE_ENV, RAY_TEMP_DIR
from components.constants import GRAFANA_LOGS_CREDENTIAL_FILE, GRAFANA_UID, PROMETHEUS_UID
from support.crds import assert_strictly_valid
from support.live import Processes, wait_until
from support.log_pipeline import Collector, VictoriaLogs
from support.loopback import free_port
from support.manifests import KUBERNETES_VERSION, manifest
from support.pulumi_internals import hide, is_secret
from support.stacks import Run, refused, run_stack, written_files

LOKI = "https://logs-prod-006.grafana.net"
WRITER, WRITE_TOKEN, READ_TOKEN = "712345", "glc-write-0001", "glc-read-0002"
CREDENTIALS = (WRITE_TOKEN, READ_TOKEN)
WRITE_AUTH = {"type": "basic", "username": WRITER, "password": WRITE_TOKEN}
READ_AUTH = {"type": "bearer", "token": READ_TOKEN}
HEADER = "Basic " + base64.b64encode(f"{WRITER}:{WRITE_TOKEN}".encode()).decode()
SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


def ok(result: Run) -> Run:
    assert result.error is None, repr(result.error)
    return result


@pytest.fixture(scope="module")
def k8s_users_loki() -> Run:
    return ok(run_stack("minikube", secrets={"logsAuth": WRITE_AUTH, "logsQueryAuth": READ_AUTH}, logsUrl=LOKI))


@pytest.fixture(scope="module")
def aws_users_loki() -> Run:
    return ok(run_stack("aws", secrets={"logsAuth": WRITE_AUTH, "logsQueryAuth": READ_AUTH}, logsUrl=LOKI))


def assert_no_plain_credential(result: Run) -> None:
    for resource in result.resources:
        text = json.dumps(hide(resource.inputs))
        leaked = [c for c in (*CREDENTIALS, HEADER) if c in text or base64.b64encode(c.encode()).decode() in text]
        assert not leaked, f"{resource.type} {resource.name} shows {leaked} outside a secret"
    assert not [c for c in CREDENTIALS if c in json.dumps(hide(result.outputs))]


def datasource(provisioning: str) -> dict:
    return {d["uid"]: d for d in yaml.safe_load(provisioning)["datasources"]}["ray-logs"]


def test_kubernetes_ships_to_the_users_loki_and_deploys_none(k8s_users_loki):
    result = k8s_users_loki
    assert not [r for r in result.resources if r.name.startswith("loki")]
    collector = yaml.safe_load(result.one(CONFIG_MAP, "ray-cluster-log-collector").plain["data"]["collector.yaml"])
    exporter = collector["exporters"]["otlp_http"]
    assert exporter["endpoint"] == f"{LOKI}/otlp"  # the exporter appends /v1/logs: Loki's OTLP endpoint
    assert exporter["headers"] == {"Authorization": "${file:/etc/otelcol-store/authorization}"}
    header = result.one(SECRET, "ray-cluster-log-store")
    assert header.plain["metadata"]["namespace"] == "ray-system" and is_secret(header.inputs["stringData"])
    assert header.plain["stringData"] == {"authorization": HEADER}  # the header alone
    assert header.urn in result.one("kubernetes:ray.io/v1:RayCluster", "ray-cluster-cluster").dependencies
    assert_no_plain_credential(result)


def test_only_the_collector_container_mounts_the_header(k8s_users_loki):
    spec = k8s_users_loki.one("kubernetes:ray.io/v1:RayCluster", "ray-cluster-cluster").plain["spec"]
    for pod in (spec["headGroupSpec"]["template"]["spec"], spec["workerGroupSpecs"][0]["template"]["spec"]):
        (volume,) = [v for v in pod["volumes"] if v["name"] == "log-store-authorization"]
        assert volume["secret"]["secretName"] == "ray-cluster-log-store-generated"  # the mocks name it
        mounting = [c["name"] for c in pod["containers"]
                    if any(m["name"] == "log-store-authorization" for m in c.get("volumeMounts", []))]
        assert mounting == ["log-collector"], "Ray's container (a job's code) must not see the store's header"


def test_kubernetes_grafana_reads_the_users_loki_with_its_own_credential(k8s_users_loki):
    result = k8s_users_loki
    (provisioning,) = [r.plain["data"]["datasources.yaml"] for r in result.of_type(CONFIG_MAP)
                       if "datasources.yaml" in r.plain.get("data", {})]
    logs = datasource(provisioning)
    assert logs["url"] == LOKI and logs["jsonData"] == {"httpHeaderName1": "Authorization"}
    assert logs["secureJsonData"] == {"httpHeaderValue1": f"Bearer $__file{{{GRAFANA_LOGS_CREDENTIAL_FILE}}}"}
    credential = result.one(SECRET, "grafana-datasource")
    assert credential.plain["stringData"] == {"logs-credential": READ_TOKEN} and is_secret(
        credential.inputs["stringData"])


def test_aws_ships_every_node_to_the_users_loki_and_runs_no_loki(aws_users_loki):
    result = aws_users_loki
    files, worker = result.config(), written_files(result.worker_user_data())
    assert "loki" not in yaml.safe_load(files[f"{BASE}/compose.yaml"])["services"]
    assert f"{BASE}/loki/loki.yaml" not in files
    for config in (files[f"{BASE}/otelcol/collector.yaml"], worker[f"{BASE}/otelcol/collector.yaml"]):
        exporter = yaml.safe_load(config)["exporters"]["otlp_http"]
        # The Compose service mounts BASE/otelcol at /etc/otelcol, read-only.
        assert exporter["endpoint"] == f"{LOKI}/otlp"
        assert exporter["headers"] == {"Authorization": "${file:/etc/otelcol/authorization}"}
    secrets = {s["path"]: s for s in result.manifest()["secrets"]}
    header = secrets[f"{BASE}/otelcol/authorization"]
    assert (header["uid"], header["mode"], header["reload"]) == (PROMETHEUS_UID, "0400", "log-collector-restart")
    grafana = secrets[f"{BASE}/secrets/logs-credential"]
    assert (grafana["uid"], grafana["reload"]) == (GRAFANA_UID, "grafana-datasources")
    logs = datasource(files[f"{BASE}/grafana/provisioning/datasources/datasources.yaml"])
    assert logs["url"] == LOKI and "Bearer" in logs["secureJsonData"]["httpHeaderValue1"]
    assert_no_plain_credential(result)


def test_aws_workers_read_the_header_from_ssm_at_boot_and_nothing_more(aws_users_loki):
    result = aws_users_loki
    values = {p.plain["name"]: p.plain["value"] for p in result.of_type("aws:ssm/parameter:Parameter")}
    name = "/ray-monitoring/aws/ray-cluster/logs/authorization"
    assert values[name] == HEADER
    assert values["/ray-monitoring/aws/ray-cluster/grafana/logs-credential"] == READ_TOKEN
    worker = {s["Sid"]: s for s in json.loads(result.one(
        "aws:iam/rolePolicy:RolePolicy", "worker-role-policy").plain["policy"])["Statement"]}
    readable = [r.rsplit("parameter", 1)[1] for r in worker["ReadParameters"]["Resource"]]
    assert sorted(readable) == sorted([name, "/ray-monitoring/aws/ray-cluster/ray/auth-token"]), \
        "Grafana's read credential stays on the head"
    start = written_files(result.worker_user_data())[f"{BASE}/bin/start.sh"]
    assert f"us-west-2 {name}:1 {BASE}/otelcol/authorization.new" in start
    assert f"install -m 0400 -o {PROMETHEUS_UID} -g {PROMETHEUS_UID} {BASE}/otelcol/authorization.new" in start
    assert start.index("retry fetch_logs_header") < start.index("docker compose --project-directory")


def test_without_logs_query_auth_grafana_reads_with_the_collectors_credential():
    result = ok(run_stack("minikube", secrets={"logsAuth": WRITE_AUTH}, logsUrl=LOKI))
    assert result.one(SECRET, "grafana-datasource").plain["stringData"] == {"logs-credential": WRITE_TOKEN}


def test_an_open_loki_gets_no_header_and_no_secret():
    result = ok(run_stack("aws", logsUrl="http://loki.internal.example.com:3100"))
    assert "headers" not in yaml.safe_load(result.config()[f"{BASE}/otelcol/collector.yaml"])["exporters"]["otlp_http"]
    assert not [p for p in result.of_type("aws:ssm/parameter:Parameter") if "/logs/" in p.plain["name"]]


@pytest.mark.parametrize(("settings", "secrets", "key", "says"), [
    ({}, {"logsAuth": WRITE_AUTH}, "logsAuth", "logsUrl, which is not set"),
    ({"logsUrl": LOKI, "logs": "false"}, {}, "logsUrl", "logs is off"),
    ({"logsUrl": "https://u:p@logs.example.com"}, {}, "logsUrl", "must not carry credentials"),
    ({"logsUrl": "logs.example.com"}, {}, "logsUrl", "must be an http(s) URL"),
    ({"logsUrl": LOKI, "logsRetention": "30d"}, {}, "logsRetention", "deploys none"),
    ({"logsUrl": LOKI}, {"logsAuth": {"type": "sigv4", "region": "us-west-2"}}, "logsAuth", "Loki takes no SigV4"),
    ({"logsUrl": LOKI, "logsAuth": WRITE_AUTH}, {}, "logsAuth", "is not a Pulumi secret"),
    ({"logsUrl": LOKI}, {"logsAuth": {"type": "bearer", "token": "a$b"}}, "logsAuth", "contains '$'"),
    ({"logsUrl": LOKI}, {"logsAuth": {"type": "bearer", "token": "a\nb"}}, "logsAuth", "control character"),
])
def test_bad_log_store_settings_are_refused_before_anything_is_made(settings, secrets, key, says):
    for stack in ("minikube", "aws"):
        assert says in refused(run_stack(stack, secrets=secrets, **settings), key)


def test_a_deployed_loki_setting_is_refused_beside_logs_url_on_kubernetes():
    message = refused(run_stack("minikube", logsUrl=LOKI, lokiStorage="persistentVolumeClaim"), "lokiStorage")
    assert "pulumi config rm lokiStorage" in message


def pods_collector(processes: Processes, workdir: Path, config: str, header: Path, ray: Path) -> Collector:
    """A Ray pod's collector on this machine: its header file, Ray's temp dir and a state directory of its own."""
    return Collector(processes, workdir, config,
                     {f"{sidecar.AUTHORIZATION_DIR}/{sidecar.AUTHORIZATION_KEY}": str(header),
                      RAY_TEMP_DIR: str(ray), sidecar.STATE_DIR: str(workdir / "state")},
                     {NODE_ENV: "ray-training-cluster-head-abcde", NODE_TYPE_ENV: "head"}, telemetry_port=free_port())


def test_the_real_collector_authenticates_with_the_deployed_header_file(k8s_users_loki, tmp_path):
    """The Ray pods' configuration and the Secret's bytes as deployed, run by the collector built from its
    modules, into VictoriaLogs requiring the same basic auth (-httpAuth.*; an OTLP store as Loki is): every
    line arrives, so the file provider read the header as written; without it the store refuses.

    And what a refused credential costs: the otlphttp exporter takes a 401 as permanent and drops the batch
    (measured here; exporterhelper's queue_sender logs "Exporting failed. Dropping data."), so a credential
    must be valid before the one it replaces is revoked (docs/logs.md)."""
    processes = Processes()
    store = VictoriaLogs(processes, tmp_path / "store", free_port(), auth=(WRITER, WRITE_TOKEN))
    try:
        store.start()
        anonymous = urllib.request.Request(f"{store.otlp_url}/v1/logs", data=b"", method="POST")  # noqa: S310
        with pytest.raises(urllib.error.HTTPError) as refused_insert:
            urllib.request.urlopen(anonymous, timeout=10)  # noqa: S310
        assert refused_insert.value.code == 401
        header = tmp_path / "store-authorization"
        header.write_text(k8s_users_loki.one(SECRET, "ray-cluster-log-store").plain["stringData"]["authorization"])
        config = k8s_users_loki.one(CONFIG_MAP, "ray-cluster-log-collector").plain["data"]["collector.yaml"]
        config = config.replace(f"{LOKI}/otlp", store.otlp_url)
        logs = tmp_path / "ray" / "session_2026_12_03_10_00_00_000000_1" / "logs"
        logs.mkdir(parents=True)
        (logs / "raylet.out").write_text("".join(f"raylet line {i}\n" for i in range(20)))
        collector = pods_collector(processes, tmp_path / "collector", config, header, tmp_path / "ray")
        collector.start()
        wait_until(lambda: len([r for r in store.query('"raylet line"') if r["ray_component"] == "raylet"]) == 20, 60,
                   f"20 lines in the store (see {tmp_path / 'collector' / 'collector.log'})")
        collector.stop()
        header.write_text("Basic " + base64.b64encode(f"{WRITER}:revoked".encode()).decode())
        refused_collector = pods_collector(processes, tmp_path / "refused", config, header, tmp_path / "ray")
        refused_collector.start()
        wait_until(lambda: (refused_collector.metric("otelcol_exporter_send_failed_log_records") or 0) >= 20, 60,
                   "the refused batch counted as failed")
        assert (refused_collector.metric("otelcol_exporter_queue_size") or 0) == 0, "dropped, not kept to retry"
        assert len(store.query('"raylet line"')) == 20
    finally:
        processes.stop_all()


def test_the_created_cluster_with_the_header_volume_validates_against_kuberay_crd_and_as_pods(k8s_users_loki):
    cluster = manifest(k8s_users_loki.one("kubernetes:ray.io/v1:RayCluster", "ray-cluster-cluster"))
    assert_strictly_valid(cluster, "schemas/ray.io_rayclusters.v1.7.0.yaml")
    spec = cluster["spec"]
    for template in [spec["headGroupSpec"]["template"], *[g["template"] for g in spec["workerGroupSpecs"]]]:
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                                      "spec": template["spec"]}, KUBERNETES_VERSION, strict=True)
    for name in ("ray-cluster-log-store", "grafana-datasource"):
        kubernetes_validate.validate(manifest(k8s_users_loki.one(SECRET, name)), KUBERNETES_VERSION, strict=True)
