"""The OpenTelemetry Collector's configuration on every Ray node (no Pulumi here): Ray's log files in,
OTLP/HTTP out to the log store, with what a user filters by on each record.

Ray writes its logs as files under /tmp/ray/session_*/logs (Ray 2.60, read from a live session):
`raylet.out`, `gcs_server.out`, `dashboard.log`, `monitor.log` ...; `worker-<worker id>-<job id>-<pid>.out/.err`
(a job's task and actor output; the job id is `ffffffff` for workers Ray started before any job),
`python-core-worker-<worker id>_<pid>.log`, `python-core-driver-<job id>ffff..._<pid>.log`,
`job-driver-<submission id>.log`, `runtime_env_setup-<job id>.log`, and `jobs/supervisor-<submission id>.log`.
Ray rotates them by renaming (`raylet.out.1`, `dashboard.log.2`, ...; RAY_ROTATION_MAX_BYTES and
RAY_ROTATION_BACKUP_COUNT), so the rotated names are read too: the receiver knows a file by its identity,
not its name, and reads each once. `session_latest` is a symlink to the current session: left out, or
every file would be found twice. `events/` and `export_events/` hold Ray's structured event streams (the
dashboard's), not log lines: left out.

What each record carries:
- resource (index labels in Loki, set per node): `ray_io_cluster` (as on the metrics), `ray_node`,
  `ray_node_type` (head or worker) and `ray_component` (raylet, gcs_server, worker, job_driver, ...);
  `service.name` is `ray`, which Loki's service_name label would otherwise guess.
- attributes: `ray_session_name` (the metrics' SessionName), `ray_stream` (out, err or log),
  `ray_job_id`, `ray_worker_id`, `ray_pid`, `ray_submission_id` where the file's name gives them,
  and `log.file.name`.

Nothing is lost or sent twice across a restart or an outage: file offsets and the export queue live in
the file storage extension's directory (a restart resumes where it stopped; a graceful stop flushes), the
queue is the exporter's persistent one (no batch processor, whose memory a crash would lose), and a full
queue or a refusing memory limiter makes the receiver pause and retry, never drop. A killed collector
(SIGKILL) may resend what it read since its last checkpoint: at least once, not exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

# The components the configuration uses, by their Go modules (the contrib image has them all; the tests
# build a collector of exactly these at the image's version: tests/support/go_tools.py).
COMPONENTS = {
    "receivers": ("github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver",),
    "processors": ("go.opentelemetry.io/collector/processor/memorylimiterprocessor",),
    "exporters": ("go.opentelemetry.io/collector/exporter/otlphttpexporter",),
    "extensions": ("github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage",),
}

# The environment the collector's container gets: who this node is (the platform fills it in).
NODE_ENV = "RAY_MONITORING_NODE"  # the pod's name on Kubernetes (the downward API)
# On EC2 the collector runs on the host's network, where Docker names the container after the host and sets
# HOSTNAME to that name (moby's daemon: initializeNetworking, CreateDaemonEnvironment): the instance's name.
HOST_NAME_ENV = "HOSTNAME"
NODE_TYPE_ENV = "RAY_MONITORING_NODE_TYPE"  # head or worker
CLUSTER_ENV = "RAY_MONITORING_CLUSTER"  # the cluster's name, where one configuration serves several

RAY_TEMP_DIR = "/tmp/ray"
NIL_JOB_ID = "ffffffff"  # a worker Ray started before it ran any job's task

# One regex per file-name family (Go's RE2: a group name once per expression); the first that matches wins.
# No backslashes: each is also an expression's string literal (the operators' `if`).
NAME_FAMILIES: tuple[tuple[str, str], ...] = (
    ("worker", "^worker-(?P<ray_worker_id>[0-9a-f]+)-(?P<ray_job_id>[0-9a-f]{8})-(?P<ray_pid>[0-9]+)$"),
    ("core_worker", "^python-core-worker-(?P<ray_worker_id>[0-9a-f]+)_(?P<ray_pid>[0-9]+)$"),
    ("core_driver", "^python-core-driver-(?P<ray_job_id>[0-9a-f]{8})[0-9a-f]*_(?P<ray_pid>[0-9]+)$"),
    ("job_driver", "^job-driver-(?P<ray_submission_id>.+)$"),
    ("job_supervisor", "^jobs/supervisor-(?P<ray_submission_id>.+)$"),
    ("runtime_env_setup", "^runtime_env_setup-(?P<ray_job_id>[0-9a-f]{8})$"),
)
FILE_REGEX = (r"^.*/(?P<ray_session_name>session_[^/]+)/logs/(?P<ray_file>.+?)\.(?P<ray_stream>log|out|err)"
              r"(?:\.\d+)?$")


@dataclass(frozen=True)
class CollectorSettings:
    store_url: str  # the store's OTLP/HTTP base: the exporter appends /v1/logs
    cluster: str  # the ray_io_cluster label's value
    storage_dir: str  # file offsets and the export queue: must outlive the collector's process
    node_env: str = NODE_ENV  # the variable that names this node (HOST_NAME_ENV on EC2)
    ray_temp_dir: str = RAY_TEMP_DIR
    memory_limit_mib: int = 200  # the memory limiter's ceiling, under the container's limit
    # The user's store's Authorization header, from this file (which holds the header alone), when it wants one.
    authorization_file: str | None = None
    telemetry_address: str = "127.0.0.1"  # the collector's own metrics (port 8888): nothing opened beyond it


def _name_operators() -> list[dict[str, Any]]:
    """The file's path parsed into attributes, then its family's ids and the component."""
    operators: list[dict[str, Any]] = [{
        "type": "regex_parser", "id": "file", "parse_from": 'attributes["log.file.path"]', "regex": FILE_REGEX,
        "on_error": "send_quiet", "cache": {"size": 512}}]
    for component, regex in NAME_FAMILIES:
        matches = f'attributes.ray_file matches "{regex}"'
        operators += [
            {"type": "regex_parser", "id": f"name_{component}", "if": f"resource.ray_component == nil and {matches}",
             "parse_from": "attributes.ray_file", "regex": regex, "on_error": "send_quiet", "cache": {"size": 512}},
            {"type": "add", "id": f"component_{component}", "if": f"resource.ray_component == nil and {matches}",
             "field": "resource.ray_component", "value": component},
        ]
    operators += [
        # Every other file is its own component: raylet, gcs_server, dashboard, dashboard_agent, monitor ...
        {"type": "add", "id": "component_by_name", "if": "resource.ray_component == nil and attributes.ray_file != nil",
         "field": "resource.ray_component", "value": "EXPR(attributes.ray_file)"},
        {"type": "remove", "id": "nil_job_id", "if": f'attributes.ray_job_id == "{NIL_JOB_ID}"',
         "field": "attributes.ray_job_id"},
        {"type": "remove", "id": "file_stem", "if": "attributes.ray_file != nil", "field": "attributes.ray_file"},
    ]
    return operators + _structured_operators()


# Ray's structured logging (LoggingConfig(encoding="JSON"): ray/_common/formatters.py JSONFormatter, one JSON
# object a line, keys from logging_constants.LogKey) names the job, worker, task and actor of each line, the
# job even in a pool worker's file (named after the nil job). Those fill what the file's name left unset; the
# line itself is kept as written, for LogQL's `| json`.
JSON_KEYS = (("job_id", "ray_job_id"), ("worker_id", "ray_worker_id"), ("task_id", "ray_task_id"),
             ("actor_id", "ray_actor_id"), ("process", "ray_pid"))
JSON_LINE = 'attributes.ray_json != nil'


def _structured_operators() -> list[dict[str, Any]]:
    operators: list[dict[str, Any]] = [
        {"type": "json_parser", "id": "ray_json", "if": 'body matches "^[{].*[}]$"', "parse_from": "body",
         "parse_to": "attributes.ray_json", "on_error": "send_quiet"}]
    for key, attribute in JSON_KEYS:
        operators.append({"type": "copy", "id": f"json_{key}",
                          "if": f"{JSON_LINE} and attributes.ray_json.{key} != nil and attributes.{attribute} == nil",
                          "from": f"attributes.ray_json.{key}", "to": f"attributes.{attribute}"})
    operators += [
        {"type": "severity_parser", "id": "json_level",
         "if": f"{JSON_LINE} and attributes.ray_json.levelname != nil", "parse_from": "attributes.ray_json.levelname",
         "mapping": {"warn": "WARNING", "fatal": "CRITICAL"}, "on_error": "send_quiet"},
        {"type": "remove", "id": "json_fields", "if": JSON_LINE, "field": "attributes.ray_json"},
    ]
    return operators + _level_operators()


# The level of Ray's own plain lines, by their writer (read from a Ray 2.60 session): its C++ processes
# (raylet, gcs_server: `[2026-12-04 03:00:51,640 I 29194 29194] (raylet) main.cc:283: ...`, spdlog's short
# level letter) and its Python ones (dashboard, monitor: ray_constants.LOGGER_FORMAT,
# `2026-12-04 03:00:50,825<TAB>INFO monitor.py:730 -- ...`). A task's own prints have no level.
LEVEL_FORMATS = (
    ("cpp", "^[[][0-9]{4}-", r"^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} (?P<ray_level>[TDIWEC]) "),
    ("python", "^[0-9]{4}-[0-9]{2}-[0-9]{2} ",
     r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}\t(?P<ray_level>DEBUG|INFO|WARNING|ERROR|CRITICAL) "),
)
LEVELS = {"trace": ["T"], "debug": ["D", "DEBUG"], "info": ["I", "INFO"], "warn": ["W", "WARNING"],
          "error": ["E", "ERROR"], "fatal": ["C", "CRITICAL"]}


def _level_operators() -> list[dict[str, Any]]:
    operators: list[dict[str, Any]] = [
        {"type": "regex_parser", "id": f"level_{writer}", "if": f'body matches "{start}"', "parse_from": "body",
         "regex": regex, "on_error": "send_quiet"}
        for writer, start, regex in LEVEL_FORMATS]
    return operators + [
        {"type": "severity_parser", "id": "plain_level", "if": "attributes.ray_level != nil",
         "parse_from": "attributes.ray_level", "mapping": LEVELS, "on_error": "send_quiet"},
        {"type": "remove", "id": "level_letter", "if": "attributes.ray_level != nil", "field": "attributes.ray_level"},
    ]


def _receiver(settings: CollectorSettings) -> dict[str, Any]:
    logs = f"{settings.ray_temp_dir}/session_*/logs"
    return {
        "include": [f"{logs}/*.log*", f"{logs}/*.out*", f"{logs}/*.err*", f"{logs}/jobs/*.log*"],
        "exclude": [f"{settings.ray_temp_dir}/session_latest/**"],
        "start_at": "beginning",  # with the offsets in storage: a file found late is read whole, once
        "include_file_path": True,
        "storage": "file_storage",
        # A refusing memory limiter or a full queue pauses reading; nothing read is dropped.
        "retry_on_failure": {"enabled": True, "max_elapsed_time": "0s"},
        "resource": {
            "service.name": "ray",
            "ray_io_cluster": settings.cluster,
            "ray_node": f"${{env:{settings.node_env}}}",
            "ray_node_type": f"${{env:{NODE_TYPE_ENV}}}",
        },
        "operators": _name_operators(),
    }


def _exporter(settings: CollectorSettings) -> dict[str, Any]:
    exporter: dict[str, Any] = {
        "endpoint": settings.store_url,
        "compression": "gzip",
        "sending_queue": {"enabled": True, "storage": "file_storage", "batch": {"flush_timeout": "1s"}},
        # A store away for hours loses nothing; one that is back gets the backlog within 10 s.
        "retry_on_failure": {"enabled": True, "max_interval": "10s", "max_elapsed_time": "0s"},
    }
    if settings.authorization_file:
        # The collector's file provider reads it as it starts, so the header is in no configuration file. A string
        # field takes the file's bytes verbatim, quotes and a final newline included (confmap v1.71.0
        # provider.go: NewRetrievedFromYAML keeps them as the string representation AsString returns): the
        # file holds the header alone (tests/stacks/test_logs_store.py sends it to a store that checks it).
        exporter["headers"] = {"Authorization": f"${{file:{settings.authorization_file}}}"}
    return exporter


def collector_config(settings: CollectorSettings) -> dict[str, Any]:
    return {
        "extensions": {"file_storage": {"directory": settings.storage_dir, "create_directory": True,
                                        "compaction": {"on_start": True, "directory": settings.storage_dir}}},
        "receivers": {"file_log": _receiver(settings)},
        "processors": {"memory_limiter": {"check_interval": "1s", "limit_mib": settings.memory_limit_mib,
                                          "spike_limit_mib": settings.memory_limit_mib // 4}},
        "exporters": {"otlp_http": _exporter(settings)},
        "service": {
            "extensions": ["file_storage"],
            "pipelines": {"logs": {"receivers": ["file_log"], "processors": ["memory_limiter"],
                                   "exporters": ["otlp_http"]}},
            "telemetry": {"metrics": {"readers": [{"pull": {"exporter": {"prometheus": {
                "host": settings.telemetry_address, "port": 8888}}}}]}},
        },
    }


def render(settings: CollectorSettings) -> str:
    return yaml.safe_dump(collector_config(settings), sort_keys=False)
