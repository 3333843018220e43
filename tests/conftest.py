"""Pulumi mocks for the cloud (Kubernetes API, AWS) and a runner for whole stacks.

Only the providers are mocked: settings, builders and components run for real.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import runpy
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pulumi
import pytest
import upstream
import yaml
from google.protobuf import json_format
from kubernetes_api import KubernetesApi, ray_clusters_in
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET_SIG = rpc._special_sig_key  # "4dabf18193072939515e22adb298388d"
SECRET_VALUE = rpc._special_secret_sig


def _integers(value: Any) -> Any:
    """Protobuf Structs carry every number as a double; Kubernetes and AWS fields are integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers(v) for v in value]
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def _map_secrets(value: Any, on_secret: Callable[[dict], Any]) -> Any:
    """`value` with every secret wrapper in it replaced by `on_secret(wrapper)`, recursively."""
    if is_secret(value):
        return on_secret(value)
    if isinstance(value, dict):
        return {k: _map_secrets(v, on_secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_secrets(v, on_secret) for v in value]
    return value


def reveal(value: Any) -> Any:
    """The plain value inside secret wrappers, recursively."""
    return _map_secrets(value, lambda secret: reveal(secret["value"]))


def hide(value: Any) -> Any:
    """What anyone reading a resource's inputs (or the stack's outputs) sees: each secret as "<secret>"."""
    return _map_secrets(value, lambda secret: "<secret>")


@dataclass
class Registered:
    type: str
    name: str
    parent: str  # parent URN
    urn: str
    inputs: dict  # with secret wrappers kept
    dependencies: set[str]  # URNs it waits for
    options: dict = field(default_factory=dict)  # resource options the engine sees (retainOnDelete, ...)

    @property
    def plain(self) -> dict:
        return reveal(self.inputs)


UBUNTU_AMI = {
    "id": "ami-0abcdef1234567890",
    "imageId": "ami-0abcdef1234567890",
    "name": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261101",
    "rootDeviceName": "/dev/sda1",
    "blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"volumeSize": 8}}],
}
GPU_AMI = {
    "id": "ami-0fedcba9876543210",
    "imageId": "ami-0fedcba9876543210",
    "name": "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) 20261110",
    "rootDeviceName": "/dev/sda1",
    "blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"volumeSize": 75}}],
}
# Memory (MiB) and GPUs of the instance types the tests use, as EC2's DescribeInstanceTypes gives them.
INSTANCE_TYPES = {
    "m5.large": (8192, []), "m5.xlarge": (16384, []), "m5.2xlarge": (32768, []), "t3.medium": (4096, []),
    "g5.xlarge": (16384, [{"count": 1, "manufacturer": "NVIDIA", "name": "A10G", "memorySize": 24576}]),
    "g4ad.xlarge": (16384, [{"count": 1, "manufacturer": "AMD", "name": "Radeon Pro V520", "memorySize": 8192}]),
}


class CloudMocks(pulumi.runtime.Mocks):
    """Stands in for the providers only: fills what the cloud would compute (ids, names, IPs)."""

    def __init__(self) -> None:
        self.invokes: list[tuple[str, dict]] = []
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        if args.typ.startswith("kubernetes:"):
            metadata = dict(state.get("metadata") or {})
            metadata.setdefault("name", f"{args.name}-generated")
            state["metadata"] = metadata
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = "mock-password-" + "x" * 18
        if args.typ == "aws:ec2/instance:Instance":
            state.update(privateIp="10.0.1.10", publicIp="203.0.113.10",
                         publicDns="ec2-203-0-113-10.us-west-2.compute.amazonaws.com",
                         arn=f"arn:aws:ec2:us-west-2:123456789012:instance/i-{args.name}")
        if args.typ == "aws:ssm/parameter:Parameter":
            state["arn"] = f"arn:aws:ssm:us-west-2:123456789012:parameter{state.get('name', '/x')}"
            state["version"] = 1
        if args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state["latestVersion"] = 1
        if args.typ == "aws:s3/bucketV2:BucketV2" or args.typ == "aws:s3/bucket:Bucket":
            state.setdefault("bucket", f"{args.name}-bucket")
            state["arn"] = f"arn:aws:s3:::{state['bucket']}"
        if args.typ == "aws:iam/instanceProfile:InstanceProfile":
            state.setdefault("name", f"{args.name}-name")
        if args.typ == "aws:amp/workspace:Workspace":
            # As the AWS API returns it: the workspace's endpoint, with a trailing slash.
            state["arn"] = f"arn:aws:aps:us-west-2:123456789012:workspace/ws-{args.name}"
            state["prometheusEndpoint"] = f"https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-{args.name}/"
        if args.typ == "aws:iam/role:Role":
            state["arn"] = f"arn:aws:iam::123456789012:role/{args.name}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        with self._lock:
            self.invokes.append((args.token, dict(args.args)))
        if args.token == "aws:ec2/getAmi:getAmi":
            filters = {f["name"]: f["values"][0] for f in args.args.get("filters", [])}
            if filters.get("image-id") == GPU_AMI["id"] or "Deep Learning" in filters.get("name", ""):
                return GPU_AMI
            return UBUNTU_AMI
        if args.token == "aws:ec2/getVpc:getVpc":
            return {"id": "vpc-0123456789abcdef0", "cidrBlock": "172.31.0.0/16"}
        if args.token == "aws:ec2/getSubnets:getSubnets":
            return {"ids": ["subnet-0bbbbbbbbbbbbbbbb", "subnet-0aaaaaaaaaaaaaaaa"]}
        if args.token == "aws:ec2/getSubnet:getSubnet":
            return {"id": args.args.get("id", "subnet-0aaaaaaaaaaaaaaaa"), "vpcId": "vpc-0123456789abcdef0",
                    "availabilityZone": "us-west-2a"}
        if args.token == "aws:ec2/getInstanceType:getInstanceType":
            memory, gpus = INSTANCE_TYPES[args.args["instanceType"]]
            return {"instanceType": args.args["instanceType"], "memorySize": memory, "gpuses": gpus}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/ci", "userId": "x"}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}
        raise NotImplementedError(f"un-mocked invoke {args.token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Records every registration with its parent and every stack output, thread-safely."""

    def __init__(self, mocks: CloudMocks):
        super().__init__(mocks)
        self.registered: list[Registered] = []
        self.outputs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = _integers(json_format.MessageToDict(request.object))
            with self._lock:
                self.registered.append(
                    Registered(request.type, request.name, request.parent, response.urn, inputs,
                               set(request.dependencies),
                               {"retainOnDelete": request.retainOnDelete,
                                "deleteBeforeReplace": request.deleteBeforeReplace})
                )
        return response

    def RegisterResourceOutputs(self, request):
        if request.urn.endswith("pulumi:pulumi:Stack::" + request.urn.split("::")[-1]):
            with self._lock:
                self.outputs = _integers(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)


def written_files(user_data: str) -> dict[str, str]:
    """Path -> content of every file a cloud-config user-data writes."""
    return {f["path"]: f["content"] for f in yaml.safe_load(user_data)["write_files"]}


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

    def worker_user_data(self) -> str:
        """The aws workers' user-data, from their launch template."""
        encoded = self.one("aws:ec2/launchTemplate:LaunchTemplate", "workers-launch-template").plain["userData"]
        return base64.b64decode(encoded).decode()

    def one(self, type_: str, name: str) -> Registered:
        found = [r for r in self.resources if r.type == type_ and r.name == name]
        assert len(found) == 1, f"expected one {type_} named {name}, found {[r.name for r in found]}"
        return found[0]


def stack_config(stack: str) -> dict[str, str]:
    """The stack's config as the CLI passes it: `project:key` -> string (JSON for lists)."""
    data = yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text()) or {}
    config = {}
    for key, value in (data.get("config") or {}).items():
        config[key] = value if isinstance(value, str) else json.dumps(value)
    return config


class _Recorder(logging.Handler):
    def __init__(self, lines: list[str]):
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def run(stack: str, config: dict[str, str], program: Callable[[], None] | None = None,
        secret_keys: tuple[str, ...] = ()) -> Run:
    """Run `program` (default: __main__.py) as `pulumi up --stack <stack>` would, under mocks."""
    mocks = CloudMocks()
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
        _sync_await(run_in_stack(main))
    except BaseException as error:  # noqa: BLE001 handed to the test
        result.error = error
    finally:
        runtime_settings.ROOT.set(None)
    return result


def run_stack(stack: str, secrets: dict[str, Any] | None = None, **overrides: Any) -> Run:
    """The stack exactly as stacks/Pulumi.<stack>.yaml configures it, plus `overrides`, and
    `secrets` as `pulumi config set --secret` passes them."""
    config = stack_config(stack)
    secret_keys = []
    for key, value in {**overrides, **(secrets or {})}.items():
        full = key if ":" in key else f"ray-monitoring:{key}"
        config[full] = value if isinstance(value, str) else json.dumps(value)
        if secrets and key in secrets:
            secret_keys.append(full)
    return run(stack, config, secret_keys=tuple(secret_keys))


def upstream_file(relative: str) -> Path:
    """An upstream file (tests/upstream-files.json), from UPSTREAM_DIR or the download cache that
    tests/run fills; the test fails, never skips, when it is missing or differs from its checksum."""
    (entry,) = [f for f in upstream.manifest() if f.path == relative]
    directory = Path(os.environ["UPSTREAM_DIR"]) if os.environ.get("UPSTREAM_DIR") else upstream.CACHE
    try:
        upstream.check(directory, [entry])
    except upstream.UpstreamError as error:
        pytest.fail(str(error))
    return directory / relative


def upstream_files(prefix: str) -> list[str]:
    """Manifest paths under `prefix`, known at collection time without touching the files."""
    return [f.path for f in upstream.manifest() if f.path.startswith(prefix)]


SAMPLE_RAY_CLUSTER = "fixtures/raycluster.sample.kuberay-v1.7.0.yaml"


@pytest.fixture(scope="session", autouse=True)
def kubernetes_api(tmp_path_factory):
    """The API server the minikube stack's preflight reads: KubeRay's sample RayCluster stands where
    stacks/Pulumi.minikube.yaml expects it (ray-training-cluster in ray-system, head ray-head)."""
    api = KubernetesApi().start()
    (sample,) = ray_clusters_in(upstream_file(SAMPLE_RAY_CLUSTER))
    api.add(sample, name="ray-training-cluster", namespace="ray-system")
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(api.kubeconfig(tmp_path_factory.mktemp("kube") / "config"))
    try:
        yield api
    finally:
        api.stop()
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous


@pytest.fixture(scope="session")
def minikube() -> Run:
    result = run_stack("minikube")
    assert result.error is None, f"minikube stack failed: {result.error!r}"
    return result


# The minikube stack for a RayCluster that already runs: patch it instead of creating one.
PATCH_MODE = {"installKubeRay": "false", "createRayCluster": "false"}


@pytest.fixture(scope="session")
def minikube_patch() -> Run:
    result = run_stack("minikube", **PATCH_MODE)
    assert result.error is None, f"minikube stack (patch mode) failed: {result.error!r}"
    return result


@pytest.fixture(scope="session")
def aws() -> Run:
    result = run_stack("aws")
    assert result.error is None, f"aws stack failed: {result.error!r}"
    return result


@dataclass
class LiveCluster:
    """A real Ray head and worker, node_exporter and Prometheus running the aws stack's config."""

    ray: Any
    prometheus: Any
    workdir: Path
    head_found_after: float  # seconds from `ray start --head` returning to Prometheus' first Ray scrape
    worker_found_after: float  # seconds from the worker's `ray start` returning to its first scrape


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    """One Ray cluster for all live tests (Ray takes ~10 s to start on 2 cores)."""
    from live.harness import (
        LOOPBACK,
        WORKLOAD,
        Processes,
        Prometheus,
        RayCluster,
        on_loopback,
        tool,
        wait_until,
    )

    from components.builders.alert_rules import FILE_NAME

    stack = run_stack("aws")
    assert stack.error is None, stack.error
    files = stack.config()
    compose = yaml.safe_load(files["/opt/ray-monitoring/compose.yaml"])
    head_env = {k: v for k, v in compose["services"]["ray-head"]["environment"].items()
                if not v.startswith("${")}
    # The iframe host is written on the head; without allowedCidrs it is the tunnel's, as the stack says.
    head_env["RAY_GRAFANA_IFRAME_HOST"] = stack.outputs["doctor"]["iframeHost"]

    workdir = tmp_path_factory.mktemp("live")
    processes = Processes()
    ray = RayCluster(workdir / "ray", head_env)
    rules = workdir / FILE_NAME
    rules.write_text(files[f"/opt/ray-monitoring/prometheus/{FILE_NAME}"])
    config = on_loopback(yaml.safe_load(files["/opt/ray-monitoring/prometheus/prometheus.yml"]), ray.sd_file, rules)
    prometheus = Prometheus(processes, workdir / "prometheus", config)
    try:
        processes.start("node_exporter", [tool("prometheus-node-exporter"),
                                          f"--web.listen-address={LOOPBACK}:9100"], workdir / "node_exporter.log")
        # Prometheus first, before Ray's temp dir even exists: the trap FIELD-NOTES measured.
        prometheus.start()
        ray.start_head()  # returns once Ray is up; its discovery file exists from then on
        head_found_after = wait_until(lambda: prometheus.target_up("ray", f"{LOOPBACK}:8080"), 60,
                                      "the Ray head scraped")
        ray.add_worker(8081)
        worker_found_after = wait_until(lambda: prometheus.target_up("ray", f"{LOOPBACK}:8081"), 60,
                                        "the Ray worker scraped")
        ray.run(WORKLOAD)
        yield LiveCluster(ray, prometheus, workdir, head_found_after, worker_found_after)
    finally:
        ray.stop()
        processes.stop_all()
