"""Running a whole stack (__main__.py) under the cloud mocks, as `pulumi up --stack NAME` would."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import runpy
from dataclasses import dataclass, field
from typing import Any, Callable

import pulumi
import yaml
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_in_stack

from support.cloud_mocks import CloudMocks, RecordingMonitor, Registered
from support.paths import PROJECT_ROOT
from support.pulumi_internals import run_to_end


def written_files(user_data: str) -> dict[str, str]:
    """Path -> content of every file a cloud-config user-data writes, decoded as cloud-init does
    (`encoding: gz+b64`: base64 of gzip)."""
    files = {}
    for f in yaml.safe_load(user_data)["write_files"]:
        content = f["content"]
        if f.get("encoding") == "gz+b64":
            content = gzip.decompress(base64.b64decode(content)).decode()
        else:
            assert "encoding" not in f, f"{f['path']}: an encoding these tests do not decode: {f['encoding']}"
        files[f["path"]] = content
    return files


@dataclass
class Run:
    monitor: RecordingMonitor
    mocks: CloudMocks
    error: BaseException | None = None
    logs: list[str] = field(default_factory=list)

    @property
    def resources(self) -> list[Registered]:
        return list(self.monitor.registered)

    @property
    def outputs(self) -> dict:
        return self.monitor.outputs

    @property
    def doctor(self) -> dict:
        """The `doctor` output (a Pulumi secret, so previews show one line), as `--show-secrets` gives it."""
        from support.pulumi_internals import is_secret, reveal

        assert is_secret(self.outputs["doctor"]), "the doctor output is a secret"
        return reveal(self.outputs["doctor"])

    @property
    def dependencies(self) -> dict[str, set[str]]:
        return {r.name: r.dependencies for r in self.resources}

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def written(self, instance: str = "head-instance") -> dict[str, str]:
        """The files an EC2 instance's registered user-data writes."""
        return written_files(self.one("aws:ec2/instance:Instance", instance).plain["userData"])

    def manifest(self) -> dict:
        """The head's configuration manifest (aws stack), as the bucket holds it."""
        return json.loads(self.one("aws:s3/bucketObjectv2:BucketObjectv2", "config-manifest").plain["content"])

    def config(self) -> dict[str, str]:
        """Path on the head -> content of every configuration file the aws stack puts in the bucket."""
        objects = {r.plain["key"]: r.plain["content"] for r in self.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
        return {entry["path"]: objects[entry["key"]] for entry in self.manifest()["files"]}

    def worker_template(self) -> Registered:
        """The aws workers' launch template (GPU workers' has a name of its own)."""
        (template,) = self.of_type("aws:ec2/launchTemplate:LaunchTemplate")
        assert template.name in ("workers-launch-template", "workers-gpu-launch-template"), template.name
        return template

    def worker_user_data(self) -> str:
        """The aws workers' user-data, from their launch template."""
        return base64.b64decode(self.worker_template().plain["userData"]).decode()

    def one(self, type_: str, name: str) -> Registered:
        found = [r for r in self.resources if r.type == type_ and r.name == name]
        assert len(found) == 1, f"expected one {type_} named {name}, found {[r.name for r in found]}"
        return found[0]


def project_values() -> dict[str, str]:
    """What the CLI passes a new stack that sets nothing (its preset is the program's to apply): Pulumi.yaml's
    project-wide values of other providers' keys (`aws:region`). Declared defaults are left out: the program
    reads the same defaults from its table (tests/stacks/test_settings.py checks they agree)."""
    project = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())
    return {key: str(declared["value"]) for key, declared in project["config"].items() if "value" in declared}


class _Recorder(logging.Handler):
    def __init__(self, lines: list[str]):
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def run(stack: str, config: dict[str, str], program: Callable[[], None] | None = None,
        secret_keys: tuple[str, ...] = (), mocks: CloudMocks | None = None) -> Run:
    """Run `program` (default: __main__.py) as `pulumi up --stack <stack>` would, under mocks
    (`mocks`: a cloud that already holds something, such as the stack's data volume)."""
    mocks = mocks or CloudMocks()
    monitor = RecordingMonitor(mocks)
    result = Run(monitor, mocks)
    logger = logging.getLogger(f"pulumi-engine-{id(result)}")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(_Recorder(result.logs))  # what the engine would print: pulumi.log.*
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project="ray-monitoring", stack=stack, preview=False, monitor=monitor,
                             logger=logger)
    runtime_settings.ROOT.set(None)  # set_mocks made a finished root stack; run_in_stack makes ours
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))

    def main() -> None:
        if program is not None:
            program()
        else:
            runpy.run_path(str(PROJECT_ROOT / "__main__.py"), run_name="__main__")

    try:
        run_to_end(run_in_stack(main))
    except BaseException as error:  # noqa: BLE001 handed to the test
        result.error = error
    finally:
        runtime_settings.ROOT.set(None)
    return result


def run_stack(stack: str, secrets: dict[str, Any] | None = None, mocks: CloudMocks | None = None,
              **overrides: Any) -> Run:
    """A new stack named `stack` (its preset applies: stacks/settings/presets.py), set `overrides`, and
    `secrets` as `pulumi config set --secret` passes them."""
    config = project_values()
    if overrides.get("createRayCluster") == "false" and not {"rayClusterName", "rayClusters"} & set(overrides):
        overrides = {**overrides, "rayClusterName": USERS_CLUSTER}
    secret_keys = []
    for key, value in {**overrides, **(secrets or {})}.items():
        full = key if ":" in key else f"ray-monitoring:{key}"
        config[full] = value if isinstance(value, str) else json.dumps(value)
        if secrets and key in secrets:
            secret_keys.append(full)
    return run(stack, config, secret_keys=tuple(secret_keys), mocks=mocks)




# A RayCluster the user runs: KubeRay's sample as applied, under its own name, in the namespace the shipped
# stack uses (served by support/kubernetes_api.py's stand-in and the control plane's API server).
USERS_CLUSTER = "raycluster-kuberay"
# The minikube stack for a RayCluster that already runs: patch it instead of creating one.
# Without rayClusterName or rayClusters it patches USERS_CLUSTER (run_stack adds it).
PATCH_MODE = {"installKubeRay": "false", "createRayCluster": "false"}
# The minikube stack beside a kube-prometheus-stack: PodMonitor and PrometheusRule for its Prometheus.
OPERATOR_MODE = {"prometheusOperator": "true",
                 "externalPrometheusUrl": "http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
                 "externalGrafanaUrl": "http://kube-prometheus-stack-grafana.monitoring.svc:80",
                 "podMonitorLabels": {"release": "kube-prometheus-stack"}}


def refused(result: Run, key: str) -> str:
    """The ConfigError a run ended with, after checking it names `key` and a fix and that nothing was
    registered."""
    from stacks.settings import ConfigError

    assert isinstance(result.error, ConfigError), repr(result.error)
    assert result.resources == [], "nothing may be registered when the input is wrong"
    message = str(result.error)
    assert f"ray-monitoring:{key} = " in message and "Fix: " in message
    return message
