"""The aws head's apply script for real, with boto3 against moto's S3 and SSM on 127.0.0.1: from what
the program registers it writes exactly the files, owners and modes the services read, and each
change triggers exactly the reload it needs (tests/aws_head.py)."""

from __future__ import annotations

import base64
import json
import stat
import subprocess

import pytest

from components.constants import GRAFANA_UID, PROMETHEUS_UID
from support.aws_head import GrafanaAdmin, Head, InstanceMetadata, moto_server
from support.loopback import LoopbackServer
from support.stacks import Run, run_stack

# SSM names carry the project and stack (two stacks in one account never share one).
PASSWORD = "/ray-monitoring/aws/ray-cluster/grafana/admin-password"
SIZED = {"retentionSize": "20GB", "prometheusMemoryLimit": "2Gi"}
RECEIVERS = {"alertReceivers": [{"name": "hook", "type": "webhook", "url": "https://hooks.example.com/x"}]}


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    yield from moto_server(tmp_path_factory.mktemp("moto"))


@pytest.fixture
def grafana():
    GrafanaAdmin.calls, GrafanaAdmin.down = [], False
    server = LoopbackServer(GrafanaAdmin).start()
    yield server
    server.stop()


@pytest.fixture
def head(moto, grafana, aws, tmp_path) -> Head:
    """A head booted from the default stack: the first apply has run."""
    head = Head(moto, tmp_path, aws.one("aws:ec2/instance:Instance", "head-instance").plain["userData"], grafana)
    head.seed(aws)
    first = head.apply()
    assert first.returncode == 0, first.stderr
    return head


def changed(head: Head, result: Run, parameters: dict[str, str] | None = None,
            replaced: dict[str, str] | None = None) -> tuple[list[list[str]], str]:
    """Seed `result`, apply once successfully: the docker calls it made, and its report."""
    assert result.error is None, result.error
    head.docker_calls()  # forget what came before
    head.seed(result, parameters, replaced)
    applied = head.apply()
    assert applied.returncode == 0, applied.stderr
    return head.docker_calls(), applied.stdout


def mode_and_owner(path) -> tuple[str, int, int]:
    info = path.stat()
    return oct(stat.S_IMODE(info.st_mode)), info.st_uid, info.st_gid


def test_first_boot_writes_exactly_the_manifest(head, aws):
    manifest = aws.manifest()
    for entry in manifest["files"]:
        path = head.file(entry["path"])
        assert path.read_text() == aws.config()[entry["path"]], entry["path"]
        assert mode_and_owner(path) == ("0o644", 0, 0), entry["path"]
    password = head.file("/opt/ray-monitoring/secrets/admin-password")
    assert password.read_text() == aws.one("aws:ssm/parameter:Parameter",
                                           "grafana-admin-password-parameter").plain["value"]
    assert mode_and_owner(password) == ("0o400", GRAFANA_UID, GRAFANA_UID), "only Grafana reads it"
    for directory, uid in (("/var/lib/ray-monitoring/data/prometheus", PROMETHEUS_UID),
                           ("/var/lib/ray-monitoring/data/grafana", GRAFANA_UID),
                           ("/var/lib/ray-monitoring/ray", 1000)):
        assert head.file(directory).stat().st_uid == uid, directory
    assert head.file("/opt/ray-monitoring/.env").read_text() == "RAY_GRAFANA_IFRAME_HOST=http://localhost:3000\n"
    written = {str(p.relative_to(head.root)) for p in (head.root / "opt").rglob("*") if p.is_file()}
    expected = {e["path"].lstrip("/") for e in manifest["files"]} | {
        "opt/ray-monitoring/secrets/admin-password", "opt/ray-monitoring/secrets/secret-key",
        "opt/ray-monitoring/ray/auth-token", "opt/ray-monitoring/.env"}
    assert written == expected, "nothing more, nothing less"
    key = head.file("/opt/ray-monitoring/secrets/secret-key")
    assert mode_and_owner(key) == ("0o400", GRAFANA_UID, GRAFANA_UID), "Grafana's secret_key: only Grafana reads it"
    assert len(key.read_text()) == 48 and key.read_text() != password.read_text()
    assert mode_and_owner(head.file("/opt/ray-monitoring/ray/auth-token")) == ("0o400", 1000, 1000), "Ray's alone"
    assert head.docker_calls() == [["up", "-d", "--remove-orphans"]]
    assert GrafanaAdmin.calls == [], "a new Grafana provisions itself"


def test_an_unchanged_manifest_does_nothing(head):
    head.docker_calls()
    again = head.apply()
    assert again.returncode == 0 and again.stdout == ""
    assert head.docker_calls() == [] and GrafanaAdmin.calls == []


def test_scrape_interval_sighups_prometheus_only(moto, grafana, tmp_path):
    # With the sizing fixed, a new interval changes prometheus.yml alone.
    sized = run_stack("aws", **SIZED)
    head = Head(moto, tmp_path, sized.one("aws:ec2/instance:Instance", "head-instance").plain["userData"], grafana)
    head.seed(sized)
    assert head.apply().returncode == 0
    calls, _ = changed(head, run_stack("aws", scrapeInterval="15s", **SIZED))
    assert calls == [["kill", "-s", "SIGHUP", "prometheus"]]
    assert "scrape_interval: 15s" in head.file("/opt/ray-monitoring/prometheus/prometheus.yml").read_text()
    assert GrafanaAdmin.calls == []


def test_a_sized_scrape_interval_recreates_prometheus_alone(head):
    # Unset, the memory limit and retention cap follow the interval: Compose recreates Prometheus
    # (its data stays on the data volume) and nothing else.
    calls, report = changed(head, run_stack("aws", scrapeInterval="15s"))
    assert calls == [["up", "-d", "--remove-orphans"]]
    assert "(recreates prometheus)" in report, report


def test_an_alert_threshold_sighups_prometheus_only(head):
    result = run_stack("aws", alertObjectStorePercent="80")
    calls, _ = changed(head, result)
    assert calls == [["kill", "-s", "SIGHUP", "prometheus"]]
    rules = head.file("/opt/ray-monitoring/prometheus/ray-alerts.yml").read_text()
    assert rules == result.config()["/opt/ray-monitoring/prometheus/ray-alerts.yml"] and "> 80" in rules


def test_dashboards_reload_through_grafana_api(head, aws):
    before = {p.name: p.read_text() for p in head.file("/opt/ray-monitoring/dashboards").iterdir()}
    calls, _ = changed(head, run_stack("aws", rayVersion="2.58.1"))
    assert calls == [], "no container is touched"
    password = head.file("/opt/ray-monitoring/secrets/admin-password").read_text()
    expected_auth = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()
    assert GrafanaAdmin.calls == [("/api/admin/provisioning/dashboards/reload", expected_auth)]
    after = {p.name: p.read_text() for p in head.file("/opt/ray-monitoring/dashboards").iterdir()}
    assert after != before


def test_retention_time_recreates_prometheus_only(head):
    calls, report = changed(head, run_stack("aws", retentionTime="30d"))
    assert calls == [["up", "-d", "--remove-orphans"]]
    assert "(recreates prometheus)" in report, "Compose recreates the one service whose spec changed"


def test_receivers_add_alertmanager_with_its_secret(head):
    result = run_stack("aws", secrets=RECEIVERS)
    calls, _ = changed(head, result)
    # Compose adds Alertmanager; Prometheus (same container spec) reloads its alerting block by signal.
    assert calls == [["up", "-d", "--remove-orphans"], ["kill", "-s", "SIGHUP", "prometheus"]]
    config = head.file("/opt/ray-monitoring/alertmanager/alertmanager.yml")
    assert "hooks.example.com" in config.read_text()
    assert mode_and_owner(config) == ("0o400", PROMETHEUS_UID, PROMETHEUS_UID)


STORE = "https://mimir.example.com/api/v1/push"
QUERY = "https://mimir.example.com/prometheus"
AGENT = {"prometheusAgent": "true", "grafanaQueryUrl": QUERY}


def store_secrets(token: str) -> dict:
    return {"remoteWrite": [{"url": STORE, "auth": {"type": "basic", "username": "ray", "password": "write-pw"}}],
            "grafanaQueryAuth": {"type": "bearer", "token": token}}


def test_agent_mode_with_credentials_lands_each_secret_where_its_reader_is(head):
    calls, report = changed(head, run_stack("aws", secrets=store_secrets("query-token-1"), **AGENT))
    # New agent flags and the head's secret and command: Compose recreates those two (so no SIGHUP);
    # Grafana's container is unchanged and re-reads its datasource through the API.
    assert calls == [["up", "-d", "--remove-orphans"]], calls
    assert "compose up -d (recreates prometheus, ray-head); reload grafana-datasources" in report, report
    for path, content, owner in (
            ("/opt/ray-monitoring/prometheus/remote-write/0-password", "write-pw", PROMETHEUS_UID),
            ("/opt/ray-monitoring/secrets/datasource-credential", "query-token-1", GRAFANA_UID),
            ("/opt/ray-monitoring/ray/prometheus-headers", '{"Authorization": "Bearer query-token-1"}', 1000)):
        assert head.file(path).read_text() == content, path
        assert mode_and_owner(head.file(path)) == ("0o400", owner, owner), path
    assert mode_and_owner(head.file("/opt/ray-monitoring/ray")) == ("0o700", 1000, 1000)


def test_a_new_query_token_restarts_the_ray_head_and_reprovisions_grafana(head):
    changed(head, run_stack("aws", secrets=store_secrets("query-token-1"), **AGENT))
    result = run_stack("aws", secrets=store_secrets("query-token-2"), **AGENT)
    manifest = result.manifest()
    for secret in manifest["secrets"]:
        if secret["path"].endswith(("prometheus-headers", "datasource-credential")):
            secret["version"] = 2  # SSM's new version for a new value
    calls, report = changed(head, result, replaced={"config/manifest.json": json.dumps(manifest)})
    # Ray reads RAY_PROMETHEUS_HEADERS as it starts; Grafana reads the token when it provisions.
    assert calls == [["restart", "ray-head"]], calls
    assert "reload grafana-datasources" in report
    assert head.file("/opt/ray-monitoring/ray/prometheus-headers").read_text().endswith('query-token-2"}')


def logs_store(token: str) -> Run:
    return run_stack("aws", secrets={"logsAuth": {"type": "bearer", "token": token}},
                     logsUrl="https://logs.example.com")


def test_the_users_loki_stops_the_heads_loki_and_hands_the_collector_its_header(head):
    calls, report = changed(head, logs_store("logs-token-1"))
    # Loki leaves the Compose file (--remove-orphans stops it) and the collector's configuration changes.
    assert calls == [["up", "-d", "--remove-orphans"]], calls
    assert "recreates log-collector" in report and "reload grafana-datasources" in report, report
    header = head.file("/opt/ray-monitoring/otelcol/authorization")
    assert header.read_text() == "Bearer logs-token-1"
    assert mode_and_owner(header) == ("0o400", PROMETHEUS_UID, PROMETHEUS_UID), "the collector's user alone"


def test_a_rotated_log_store_token_restarts_the_collector_alone(head):
    changed(head, logs_store("logs-token-1"))
    result = logs_store("logs-token-2")
    manifest = result.manifest()
    for secret in manifest["secrets"]:
        if secret["path"].endswith("otelcol/authorization"):
            secret["version"] = 2  # SSM's new version for a new value
    calls, _ = changed(head, result, replaced={"config/manifest.json": json.dumps(manifest)})
    # The collector reads its header as it starts (the file provider): a restart, nothing else.
    assert calls == [["restart", "log-collector"]], calls
    assert head.file("/opt/ray-monitoring/otelcol/authorization").read_text() == "Bearer logs-token-2"


def test_a_changed_secret_restarts_grafana(head, aws):
    # SSM gives a new value a new version; the manifest names it, so the manifest changes too.
    manifest = aws.manifest()
    manifest["secrets"][0]["version"] = 2
    calls, _ = changed(head, aws, {PASSWORD: "a-new-password-from-ssm"}, {"config/manifest.json": json.dumps(manifest)})
    assert calls == [["restart", "grafana"]]
    assert head.file("/opt/ray-monitoring/secrets/admin-password").read_text() == "a-new-password-from-ssm"


def test_a_mismatching_object_writes_nothing(head, aws):
    result = run_stack("aws", alertObjectStorePercent="80")
    head.docker_calls()
    rules = head.file("/opt/ray-monitoring/prometheus/ray-alerts.yml")
    before = rules.read_text()
    head.seed(result, replaced={"config/prometheus/ray-alerts.yml": "groups: []\n"})
    failed = head.apply()
    assert failed.returncode != 0 and "does not match the manifest" in failed.stderr
    assert rules.read_text() == before
    assert head.docker_calls() == []
    head.seed(result)  # the objects catch up with the manifest
    assert head.apply().returncode == 0
    assert head.docker_calls() == [["kill", "-s", "SIGHUP", "prometheus"]]


def test_a_failed_reload_stays_pending_until_it_succeeds(head):
    GrafanaAdmin.down = True
    result = run_stack("aws", datasourceName="Ray Prometheus")
    head.docker_calls()
    head.seed(result)
    failed = head.apply()
    assert failed.returncode != 0 and GrafanaAdmin.calls == []
    GrafanaAdmin.down = False
    retried = head.apply()
    assert retried.returncode == 0, retried.stderr
    assert [path for path, _ in GrafanaAdmin.calls] == ["/api/admin/provisioning/datasources/reload"]
    # The datasource name is also the Ray head's RAY_PROMETHEUS_NAME: Compose recreates ray-head.
    assert ["up", "-d", "--remove-orphans"] in head.docker_calls()
    assert head.apply().stdout == "", "done once, not again"



@pytest.fixture
def metadata():
    InstanceMetadata.items = {}
    server = LoopbackServer(InstanceMetadata).start()
    yield server
    server.stop()


def public_head(moto, grafana, metadata, tmp_path) -> Head:
    """A head reachable from allowedCidrs: its .env names its public address, from instance metadata."""
    result = run_stack("aws", allowedCidrs=["203.0.113.7/32"])
    head = Head(moto, tmp_path, result.one("aws:ec2/instance:Instance", "head-instance").plain["userData"], grafana,
                extra_env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": metadata.url})
    head.seed(result)
    return head


def test_a_stop_start_new_address_reaches_env_without_a_new_manifest(moto, grafana, metadata, tmp_path):
    # EC2 user guide, "Stop and start your instance": without an Elastic IP the instance gets a new public
    # IPv4 address and DNS name; no `pulumi up` follows, so no new manifest.
    InstanceMetadata.items = {"public-hostname": "ec2-203-0-113-10.us-west-2.compute.amazonaws.com",
                              "public-ipv4": "203.0.113.10"}
    head = public_head(moto, grafana, metadata, tmp_path)
    assert head.apply().returncode == 0
    env = head.file("/opt/ray-monitoring/.env")
    assert env.read_text() == "RAY_GRAFANA_IFRAME_HOST=http://ec2-203-0-113-10.us-west-2.compute.amazonaws.com:3000\n"
    head.docker_calls()
    InstanceMetadata.items = {"public-hostname": "ec2-203-0-113-99.us-west-2.compute.amazonaws.com",
                              "public-ipv4": "203.0.113.99"}
    again = head.apply()
    assert again.returncode == 0, again.stderr
    assert env.read_text() == "RAY_GRAFANA_IFRAME_HOST=http://ec2-203-0-113-99.us-west-2.compute.amazonaws.com:3000\n"
    assert head.docker_calls() == [["up", "-d", "--remove-orphans"]]
    assert "recreates ray-head" in again.stdout, "the Ray head reads the iframe host as it starts"
    assert head.apply().stdout == "", "unchanged address: nothing to do"


def test_without_vpc_dns_hostnames_the_iframe_host_is_the_public_ipv4(moto, grafana, metadata, tmp_path):
    # EC2 user guide, "Instance metadata categories": public-hostname exists only when the VPC has
    # DNS hostnames enabled; public-ipv4 whenever the instance has a public address.
    InstanceMetadata.items = {"public-ipv4": "198.51.100.7"}
    head = public_head(moto, grafana, metadata, tmp_path)
    applied = head.apply()
    assert applied.returncode == 0, applied.stderr
    assert head.file("/opt/ray-monitoring/.env").read_text() == "RAY_GRAFANA_IFRAME_HOST=http://198.51.100.7:3000\n"


def ext4_blocks(image) -> int:
    header = subprocess.run(["dumpe2fs", "-h", str(image)], capture_output=True, text=True, check=True).stdout
    return int(next(line for line in header.splitlines() if line.startswith("Block count:")).split(":")[1])


def test_a_grown_volume_grows_its_filesystem_on_the_next_run(head, tmp_path):
    # EBS user guide, "Extend the file system after resizing a volume": the device grows, the
    # filesystem does not until resize2fs runs. A real ext4 image stands in for the device.
    image = tmp_path / "data-volume.img"
    with image.open("wb") as disk:
        disk.truncate(64 * 2**20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    head.file("/opt/ray-monitoring/data-device").write_text(f"{image}\n")
    assert head.apply().stdout == "", "device and filesystem the same size: nothing to do"
    small = ext4_blocks(image)
    with image.open("r+b") as disk:
        disk.truncate(256 * 2**20)  # ModifyVolume grew the device
    # Mounted, resize2fs grows ext4 online; this unmounted image wants the check a mount would make.
    subprocess.run(["e2fsck", "-f", "-y", str(image)], capture_output=True, check=False)
    grown = head.apply()
    assert grown.returncode == 0, grown.stderr
    assert "grew the data filesystem" in grown.stdout
    assert ext4_blocks(image) >= 4 * small * 0.95
    assert head.apply().stdout == "", "grown once, not again"


def forged(head: Head, result: Run, change, resign: bool) -> subprocess.CompletedProcess:
    """A manifest changed by `change` (someone with write access to the bucket), signed with the
    real key only when `resign`: the run that follows."""
    manifest = result.manifest()
    change(manifest)
    head.docker_calls()
    head.seed(result, replaced={"config/manifest.json": json.dumps(manifest)}, resign=resign)
    return head.apply()


def test_a_manifest_someone_else_wrote_is_refused_and_nothing_written(head, aws):
    # Whoever may write the bucket could name a Compose file that mounts / into a container: the head
    # applies only a manifest signed with the key it reads from SSM, which that writer does not have.
    compose = head.file("/opt/ray-monitoring/compose.yaml")
    before = compose.read_text()

    def evil_compose(manifest):
        entry = next(e for e in manifest["files"] if e["path"].endswith("/compose.yaml"))
        entry["sha256"] = "0" * 64

    failed = forged(head, aws, evil_compose, resign=False)
    assert failed.returncode != 0 and "signature does not verify" in failed.stderr
    assert compose.read_text() == before and head.docker_calls() == []


@pytest.mark.parametrize("change, refusal", [
    (lambda m: m["files"].append({**m["files"][0], "path": "/etc/cron.d/ray-monitoring"}), "outside"),
    (lambda m: m["files"].append({**m["files"][0], "path": "/opt/ray-monitoring/../../root/.ssh/authorized_keys"}),
     "outside"),
    (lambda m: m["files"][0].update(uid=1234), "uid 1234"),
    (lambda m: m["secrets"][0].update(mode="4755"), "set-id"),
    (lambda m: m["directories"][0].update(mode="0777"), "world-writable"),
], ids=["cron", "dot-dot", "owner", "setuid", "world-writable"])
def test_even_a_signed_manifest_writes_only_within_the_heads_trees(head, aws, change, refusal):
    failed = forged(head, aws, change, resign=True)
    assert failed.returncode != 0 and refusal in failed.stderr, failed.stderr
    assert not head.file("/etc/cron.d/ray-monitoring").exists() and not head.file("/root").exists()
    assert head.docker_calls() == []


def test_nothing_is_applied_while_the_data_volume_is_not_mounted(moto, grafana, aws, tmp_path):
    # The boot's wait can end before EBS attaches the volume; Compose would then write Prometheus' and
    # Grafana's data onto the root disk. The mount script answers "not mounted" (exit 1) until it mounts it.
    head = Head(moto, tmp_path, aws.one("aws:ec2/instance:Instance", "head-instance").plain["userData"], grafana)
    head.seed(aws)
    head.volume_mounted.unlink()
    waiting = head.apply()
    assert waiting.returncode == 1 and "data volume is not mounted" in waiting.stderr
    assert head.docker_calls() == [] and not head.file("/opt/ray-monitoring/compose.yaml").exists()
    head.volume_mounted.touch()  # attached now: the next tick mounts it and applies
    applied = head.apply()
    assert applied.returncode == 0, applied.stderr
    assert head.docker_calls()[0] == ["up", "-d", "--remove-orphans"]


def test_a_data_device_name_that_is_gone_does_not_stop_the_apply(head):
    head.file("/opt/ray-monitoring/data-device").write_text("/dev/disk/by-uuid/0000-gone\n")
    result = head.apply()
    assert result.returncode == 0, result.stderr


def test_an_older_signed_manifest_replayed_is_refused(head, aws):
    # S3 versioning keeps every manifest the deployer signed: whoever may write the bucket could restore an
    # older one (before token authentication, say). Its serial is below the one applied, so the head refuses.
    newer = run_stack("aws", alertObjectStorePercent="80")
    moved = newer.manifest()
    moved["serial"] = 2  # SSM's version of the digest parameter once the manifest changed
    changed(head, newer, replaced={"config/manifest.json": json.dumps(moved)})
    assert aws.manifest()["serial"] == 1
    replayed = forged(head, aws, lambda manifest: None, resign=True)  # the first manifest, signed as it was
    assert replayed.returncode != 0 and "has serial 1, older than the 2 applied" in replayed.stderr
    assert "> 80" in head.file("/opt/ray-monitoring/prometheus/ray-alerts.yml").read_text(), "nothing rolled back"


def test_a_parameter_written_out_of_step_changes_nothing(head, aws):
    # SSM GetParameter reads `name:version`: the head reads the version the signed manifest names, so a
    # writer of one parameter (without the signing key) cannot change what the head runs.
    head.docker_calls()
    head.seed(aws, parameters={PASSWORD: "set-by-someone-else"})
    applied = head.apply()
    assert applied.returncode == 0, applied.stderr
    assert head.file("/opt/ray-monitoring/secrets/admin-password").read_text() != "set-by-someone-else"
    assert head.docker_calls() == []


def test_a_replaced_head_still_refuses_a_manifest_older_than_its_data_volume_saw(moto, grafana, aws, tmp_path):
    # A new head boots with a new root disk (no applied.json) and the data volume of the old one: the
    # serial the old head applied is on the volume, so a manifest replayed at that moment is refused too.
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
    old = Head(moto, tmp_path / "old", aws.one("aws:ec2/instance:Instance", "head-instance").plain["userData"],
               grafana)
    newer = run_stack("aws", alertObjectStorePercent="80")
    moved = newer.manifest()
    moved["serial"] = 2
    old.seed(newer, replaced={"config/manifest.json": json.dumps(moved)})
    assert old.apply().returncode == 0
    serial_file = "/var/lib/ray-monitoring/data/.manifest-serial"
    assert old.file(serial_file).read_text() == "2"
    new = Head(moto, tmp_path / "new", aws.one("aws:ec2/instance:Instance", "head-instance").plain["userData"],
               grafana)
    new.file(serial_file).parent.mkdir(parents=True)
    new.file(serial_file).write_text(old.file(serial_file).read_text())  # the volume moved to the new head
    replayed = forged(new, aws, lambda manifest: None, resign=True)
    assert replayed.returncode != 0 and "has serial 1, older than the 2 applied" in replayed.stderr
