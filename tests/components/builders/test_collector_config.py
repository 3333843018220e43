"""The log collector's configuration (components/builders/logs/collector_config.py): what it reads, what
each record carries, and why nothing is lost. The real collector loads it in tests/live/test_logs_live.py."""

from __future__ import annotations

import fnmatch
import re

import pytest

from components.builders.logs import collector_config
from components.builders.logs.collector_config import FILE_REGEX, NAME_FAMILIES, CollectorSettings

SETTINGS = CollectorSettings(store_url="http://loki:3100/otlp", cluster="ray-cluster", storage_dir="/var/lib/otelcol")
CONFIG = collector_config.collector_config(SETTINGS)
RECEIVER = CONFIG["receivers"]["file_log"]
SESSION = "/tmp/ray/session_2026-12-02_16-42-28_921666_4849"

# File names from a live Ray 2.60 session (a head running tasks, a submitted job, rotation at 3 KB), and what
# a user filters each by.
RAY_2_60_FILES = {
    "logs/raylet.out": ("raylet", {}),
    "logs/raylet.out.3": ("raylet", {}),
    "logs/gcs_server.err": ("gcs_server", {}),
    "logs/dashboard.log.1": ("dashboard", {}),
    "logs/dashboard_agent.log": ("dashboard_agent", {}),
    "logs/dashboard_ServeHead.log": ("dashboard_ServeHead", {}),
    "logs/monitor.log": ("monitor", {}),
    "logs/log_monitor.log": ("log_monitor", {}),
    "logs/runtime_env_agent.log": ("runtime_env_agent", {}),
    "logs/runtime_env_setup-02000000.log": ("runtime_env_setup", {"ray_job_id": "02000000"}),
    "logs/worker-728ecc21706a996dadcb55d48fd91127dff82a288432d20a8a952b5d-ffffffff-5587.out.2": (
        "worker", {"ray_worker_id": "728ecc21706a996dadcb55d48fd91127dff82a288432d20a8a952b5d",
                   "ray_job_id": "ffffffff", "ray_pid": "5587"}),
    "logs/worker-ce4cacf45ee595d850adf95a363997532933098da867cc8c4b6f3935-02000000-6410.err": (
        "worker", {"ray_worker_id": "ce4cacf45ee595d850adf95a363997532933098da867cc8c4b6f3935",
                   "ray_job_id": "02000000", "ray_pid": "6410"}),
    "logs/python-core-worker-b757fc8f93153dba2b2ee9cd754b0071720f01ea1299459c75ac3e4b_5586.log.1": (
        "core_worker", {"ray_worker_id": "b757fc8f93153dba2b2ee9cd754b0071720f01ea1299459c75ac3e4b",
                        "ray_pid": "5586"}),
    "logs/python-core-driver-01000000ffffffffffffffffffffffffffffffffffffffffffffffff_5489.log": (
        "core_driver", {"ray_job_id": "01000000", "ray_pid": "5489"}),
    "logs/job-driver-raysubmit_test1.log": ("job_driver", {"ray_submission_id": "raysubmit_test1"}),
    "logs/jobs/supervisor-raysubmit_test1.log": ("job_supervisor", {"ray_submission_id": "raysubmit_test1"}),
}
NOT_LOGS = ["logs/debug_state.txt", "logs/events/event_GCS.log", "logs/export_events/event_EXPORT_TASK_5587.log"]


def included(path: str) -> bool:
    # The receiver's globs (doublestar): `*` stays within one path segment, as fnmatch's does not, hence the check.
    def matches(pattern: str) -> bool:
        return fnmatch.fnmatch(path, pattern) and path.count("/") == pattern.count("/") or (
            pattern.endswith("/**") and path.startswith(pattern[:-3]))

    return any(matches(p) for p in RECEIVER["include"]) and not any(matches(p) for p in RECEIVER["exclude"])


def parse(relative: str) -> tuple[str, dict[str, str]]:
    """What the operators make of a file's path, the Python regex engine standing in for Go's (the patterns
    use only what both share)."""
    attributes = re.match(FILE_REGEX, f"{SESSION}/{relative}").groupdict()
    for component, regex in NAME_FAMILIES:
        found = re.match(regex, attributes["ray_file"])
        if found:
            return component, found.groupdict()
    return attributes["ray_file"], {}


@pytest.mark.parametrize("relative", sorted(RAY_2_60_FILES))
def test_each_of_rays_log_files_is_read_and_named_by_its_component(relative):
    assert included(f"{SESSION}/{relative}")
    assert parse(relative) == RAY_2_60_FILES[relative]


@pytest.mark.parametrize("relative", NOT_LOGS)
def test_rays_event_streams_and_state_dumps_are_left_out(relative):
    assert not included(f"{SESSION}/{relative}")


def test_session_latest_is_left_out_or_every_file_would_be_read_twice():
    # /tmp/ray/session_latest is Ray's symlink to the current session directory.
    assert not included("/tmp/ray/session_latest/logs/raylet.out")
    assert included(f"{SESSION}/logs/raylet.out")


def test_the_index_labels_are_resource_attributes_and_the_ids_log_attributes():
    assert set(RECEIVER["resource"]) == {"service.name", "ray_io_cluster", "ray_node", "ray_node_type"}
    assert RECEIVER["resource"]["ray_node"] == "${env:RAY_MONITORING_NODE}"
    component_ops = [op for op in RECEIVER["operators"] if op.get("field") == "resource.ray_component"]
    assert len(component_ops) == len(NAME_FAMILIES) + 1  # each family, then the file's own name
    assert all(op["if"].startswith("resource.ray_component == nil") for op in component_ops)


def test_a_store_outage_or_a_restart_loses_nothing():
    exporter = CONFIG["exporters"]["otlp_http"]
    # Offsets and the queue in the file storage; the queue persistent; retries never give up.
    assert RECEIVER["storage"] == exporter["sending_queue"]["storage"] == "file_storage"
    assert CONFIG["extensions"]["file_storage"]["directory"] == SETTINGS.storage_dir
    assert exporter["retry_on_failure"] == {"enabled": True, "max_interval": "10s", "max_elapsed_time": "0s"}
    assert RECEIVER["retry_on_failure"] == {"enabled": True, "max_elapsed_time": "0s"}
    assert RECEIVER["start_at"] == "beginning"
    # No batch processor: what it held in memory a crash would lose, after the receiver moved its offsets on.
    assert CONFIG["service"]["pipelines"]["logs"]["processors"] == ["memory_limiter"]


def test_the_collector_opens_no_port_beyond_the_loopback():
    (reader,) = CONFIG["service"]["telemetry"]["metrics"]["readers"]
    assert reader["pull"]["exporter"]["prometheus"]["host"] == "127.0.0.1"
    assert "receivers" in CONFIG and set(CONFIG["receivers"]) == {"file_log"}  # no OTLP receiver listening


def test_the_store_credential_is_read_from_its_file_never_written_here():
    with_auth = collector_config.collector_config(CollectorSettings(
        store_url="https://logs.example.com/otlp", cluster="c", storage_dir="/s", authorization_file="/run/h"))
    assert with_auth["exporters"]["otlp_http"]["headers"] == {"Authorization": "${file:/run/h}"}
    assert "headers" not in CONFIG["exporters"]["otlp_http"]


# The contrib distribution's manifest (opentelemetry-collector-releases, distributions/otelcol-contrib/
# manifest.yaml; read at v0.159.0, the same list since) builds these modules at its own release into the
# image the stacks run: the tests' collector is made of the same modules at the image's version.
CONTRIB_DISTRIBUTION_HAS = {
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver",
    "github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage",
    "go.opentelemetry.io/collector/exporter/otlphttpexporter",
    "go.opentelemetry.io/collector/processor/memorylimiterprocessor",
}


def test_every_component_the_configuration_uses_is_in_the_contrib_image():
    used = {module for modules in collector_config.COMPONENTS.values() for module in modules}
    assert used <= CONTRIB_DISTRIBUTION_HAS
    # The component types the configuration names, as v0.165's modules register them (metadata.yaml `type`).
    assert (set(CONFIG["receivers"]), set(CONFIG["exporters"]), set(CONFIG["extensions"]),
            set(CONFIG["processors"])) == ({"file_log"}, {"otlp_http"}, {"file_storage"}, {"memory_limiter"})


def test_docker_names_a_host_network_container_after_its_host_in_hostname():
    # moby's daemon: initializeNetworking sets Config.Hostname = os.Hostname() when the network mode is host
    # and no hostname is given; CreateDaemonEnvironment puts HOSTNAME=<Config.Hostname> in the container's
    # environment. The EC2 nodes' collectors run on the host's network, so ${env:HOSTNAME} is the instance's
    # name (ip-10-0-1-23), with no per-instance file to write.
    from components.builders.logs.compose_services import NodeLogs, collector_service, collector_yaml

    config = collector_yaml("http://127.0.0.1:3100/otlp", "ray-cluster")
    service = collector_service(NodeLogs(config, "worker"))
    assert service["network_mode"] == "host" and "hostname" not in service
    assert "HOSTNAME" not in service["environment"]  # Docker's own, not overridden
    assert "ray_node: ${env:HOSTNAME}" in config
