"""Logs from clusters the stack patches: with `logs: true`, a collector joins each patched head by server-side
apply (a RayCluster's and a RayService's), reading Ray's /tmp/ray where the user's head already keeps it or on
a volume the patch adds; Loki admits those heads alone; workers are left as they are."""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest
import yaml

from components.builders.logs.collector_config import CLUSTER_ENV, NODE_ENV, NODE_TYPE_ENV, RAY_TEMP_DIR
from components.builders.logs.head_patch import SHIPPER_LABEL, ray_logs_volume
from components.builders.logs.sidecar import COLLECTOR_CONTAINER, RAY_LOGS_VOLUME, STATE_DIR
from support.crds import assert_strictly_valid, merge_list_map, v1_schema
from support.kubernetes_api import ray_clusters_in
from support.live import Processes, wait_until
from support.log_pipeline import Collector, VictoriaLogs
from support.loopback import free_port
from support.manifests import KUBERNETES_VERSION
from support.pulumi_internals import hide
from support.stacks import PATCH_MODE, Run, run_stack
from support.upstream import upstream_file

PATCH = "kubernetes:ray.io/v1:RayClusterPatch"
SERVICE_PATCH = "kubernetes:ray.io/v1:RayServicePatch"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
TEAM = "logs-team"
# A head that keeps /tmp/ray on KubeRay's emptyDir already (KubeRay's embed-grafana sample), and a RayService.
GRAFANA_SAMPLE = "fixtures/raycluster.embed-grafana.kuberay-v1.7.0.yaml"
SERVICE_SAMPLE = "fixtures/rayservice.sample.kuberay-v1.7.0.yaml"
TARGETS = [{"name": "embedded", "namespace": TEAM},
           {"name": "rayservice-sample", "namespace": TEAM, "kind": "RayService"}]
WRITE_TOKEN = "glc-write-0001"


def template_of(body: dict) -> dict:
    spec = body["spec"].get("rayClusterConfig", body["spec"])
    return spec["headGroupSpec"]["template"]


@pytest.fixture(scope="module")
def users(kubernetes_api) -> dict[str, dict]:
    (embedded,) = ray_clusters_in(upstream_file(GRAFANA_SAMPLE))
    (service,) = ray_clusters_in(upstream_file(SERVICE_SAMPLE), "RayService")
    kubernetes_api.add(embedded, name="embedded", namespace=TEAM)
    kubernetes_api.add(service, namespace=TEAM)
    return {"RayCluster": embedded, "RayService": service}


@pytest.fixture(scope="module")
def shipping(users) -> Run:
    result = run_stack("minikube", rayClusters=TARGETS, logs="true", **PATCH_MODE)
    assert result.error is None, result.error
    return result


def patches(result: Run) -> dict[str, dict]:
    return {r.plain["kind"]: r.plain for r in result.resources if r.type in (PATCH, SERVICE_PATCH)}


def merged_head(live: dict, patch: dict) -> dict:
    """The head pod spec after the API server's server-side apply of `patch` onto `live`, by KubeRay's list
    types (test_kuberay_merges_head_containers_and_volumes_by_name_and_mounts_by_path_and_workers_atomically)."""
    spec = copy.deepcopy(template_of(live)["spec"])
    applied = template_of(patch)["spec"]
    containers = {c["name"]: c for c in spec["containers"]}
    for container in applied["containers"]:
        old = containers.get(container["name"], {})
        mounts = {m["mountPath"]: m for m in old.get("volumeMounts", [])}
        mounts.update({m["mountPath"]: m for m in container.get("volumeMounts", [])})
        containers[container["name"]] = {**old, **container, "env": merge_list_map(old.get("env", []),
                                                                                    container.get("env", [])),
                                         "volumeMounts": list(mounts.values())}
    spec["containers"] = list(containers.values())
    spec["volumes"] = merge_list_map(spec.get("volumes", []), applied.get("volumes", []))
    return spec


def test_kuberay_merges_head_containers_and_volumes_by_name_and_mounts_by_path_and_workers_atomically():
    # KubeRay v1.7.0's CRDs (ray-operator/config/crd/bases): the head template's containers and volumes are
    # list-maps keyed by name, a container's volumeMounts keyed by mountPath; workerGroupSpecs has no list
    # type, so a server-side apply of any worker owns the whole list (and the autoscaler's replicas).
    for path, root in (("schemas/ray.io_rayclusters.v1.7.0.yaml", ()),
                       ("schemas/ray.io_rayservices.v1.7.0.yaml", ("rayClusterConfig",))):
        spec = v1_schema(path)["properties"]["spec"]
        for key in root:
            spec = spec["properties"][key]
        pod = spec["properties"]["headGroupSpec"]["properties"]["template"]["properties"]["spec"]["properties"]
        for field, keys in (("containers", ["name"]), ("volumes", ["name"])):
            assert (pod[field]["x-kubernetes-list-type"], pod[field]["x-kubernetes-list-map-keys"]) == ("map", keys)
        mounts = pod["containers"]["items"]["properties"]["volumeMounts"]
        assert (mounts["x-kubernetes-list-type"], mounts["x-kubernetes-list-map-keys"]) == ("map", ["mountPath"])
        assert "x-kubernetes-list-type" not in spec["properties"]["workerGroupSpecs"], path


def test_logs_true_adds_a_collector_beside_each_patched_head_and_nothing_to_workers(shipping):
    for kind, patch in patches(shipping).items():
        template = template_of(patch)
        ray, collector = template["spec"]["containers"]
        assert ray["name"] == "ray-head" and collector["name"] == COLLECTOR_CONTAINER, kind
        assert template["metadata"]["labels"] == {SHIPPER_LABEL: "head"}
        env = {e["name"]: e for e in collector["env"]}
        assert env[CLUSTER_ENV]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.labels['ray.io/cluster']"}}
        assert "workerGroupSpecs" not in json.dumps(patch), f"{kind}: workers are the user's (an atomic list)"
    config = yaml.safe_load(shipping.one(CONFIG_MAP, "raycluster-logs-team-embedded-log-collector")
                            .plain["data"]["collector.yaml"])
    assert config["receivers"]["file_log"]["resource"]["ray_io_cluster"] == f"${{env:{CLUSTER_ENV}}}"
    assert config["exporters"]["otlp_http"]["endpoint"] == "http://loki.monitoring.svc:3100/otlp"
    assert {r.plain["metadata"]["namespace"] for r in shipping.of_type(CONFIG_MAP)
            if r.name.endswith("-log-collector")} == {TEAM}


def test_a_head_that_keeps_tmp_ray_on_an_emptydir_shares_it_and_a_bare_one_gets_one(shipping, users):
    embedded = template_of(patches(shipping)["RayCluster"])["spec"]
    # The sample mounts ray-logs (an emptyDir) at /tmp/ray already: the patch declares the same, shared.
    assert ray_logs_volume(template_of(users["RayCluster"])["spec"], "ray-head") == (RAY_LOGS_VOLUME, True)
    assert embedded["containers"][0]["volumeMounts"] == [{"name": RAY_LOGS_VOLUME, "mountPath": RAY_TEMP_DIR}]
    # The RayService's head mounts nothing there: the same volume and mount are added.
    service = template_of(patches(shipping)["RayService"])["spec"]
    assert {"name": RAY_LOGS_VOLUME, "emptyDir": {}} in service["volumes"]
    for spec in (embedded, service):
        reads = {m["name"]: m for m in spec["containers"][1]["volumeMounts"]}[RAY_LOGS_VOLUME]
        assert reads == {"name": RAY_LOGS_VOLUME, "mountPath": RAY_TEMP_DIR, "readOnly": True}


def test_a_head_with_another_volume_at_tmp_ray_keeps_it_and_the_collector_reads_that_one():
    """A Fluent Bit sidecar's volume (KubeRay's logging guide), or a claim: the user's, untouched."""
    spec = {"containers": [{"name": "ray-head", "volumeMounts": [{"name": "log-volume", "mountPath": "/tmp/ray/"}]}],
            "volumes": [{"name": "log-volume", "emptyDir": {}}]}
    assert ray_logs_volume(spec, "ray-head") == ("log-volume", False)
    claim = {"containers": [{"name": "ray-head", "volumeMounts": [{"name": RAY_LOGS_VOLUME,
                                                                   "mountPath": RAY_TEMP_DIR}]}],
             "volumes": [{"name": RAY_LOGS_VOLUME, "persistentVolumeClaim": {"claimName": "ray-logs"}}]}
    assert ray_logs_volume(claim, "ray-head") == (RAY_LOGS_VOLUME, False)
    assert ray_logs_volume({"containers": [{"name": "ray-head"}]}, "ray-head") == (RAY_LOGS_VOLUME, True)


def test_the_patches_are_valid_against_kuberay_crds_and_the_merged_heads_as_pods(shipping, users):
    found = patches(shipping)
    assert_strictly_valid(found["RayCluster"], "schemas/ray.io_rayclusters.v1.7.0.yaml")
    assert_strictly_valid(found["RayService"], "schemas/ray.io_rayservices.v1.7.0.yaml")
    for kind, patch in found.items():
        head = merged_head(users[kind], patch)
        assert [c["name"] for c in head["containers"]][:2] == ["ray-head", COLLECTOR_CONTAINER], kind
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": head},
                                     KUBERNETES_VERSION, strict=True)


def test_loki_admits_grafana_and_the_labelled_heads_of_the_patched_namespaces(shipping):
    policy = shipping.one(POLICY, "loki-network-policy").plain
    (ingress,) = policy["spec"]["ingress"]
    heads = [p for p in ingress["from"] if "namespaceSelector" in p]
    assert heads == [{"podSelector": {"matchLabels": {"ray.io/node-type": "head",
                                                      "app.kubernetes.io/created-by": "kuberay-operator",
                                                      SHIPPER_LABEL: "head"}},
                      "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": TEAM}}}]


def test_the_doctor_expects_logs_from_the_patched_heads_only(shipping):
    assert shipping.doctor["logs"] is True
    assert shipping.doctor["logsFrom"] == 'ray_node_type="head",ray_io_cluster=~"embedded|rayservice-sample-.+"'


def test_the_users_store_header_is_a_secret_beside_each_patched_head(users):
    result = run_stack("minikube", rayClusters=TARGETS, logs="true", logsUrl="https://logs.example.com",
                       secrets={"logsAuth": {"type": "bearer", "token": WRITE_TOKEN}}, **PATCH_MODE)
    assert result.error is None, result.error
    stores = [r for r in result.of_type(SECRET) if r.name.endswith("-log-store")]
    assert sorted(r.plain["metadata"]["namespace"] for r in stores) == [TEAM, TEAM]
    for patch in patches(result).values():
        volumes = {v["name"]: v for v in template_of(patch)["spec"]["volumes"]}
        assert volumes["log-store-authorization"]["secret"]["defaultMode"] == 0o444
    leaked = [r.name for r in result.resources if WRITE_TOKEN in json.dumps(hide(r.inputs))]
    assert leaked == [], "the token shows outside a secret"


def test_the_real_collector_names_each_line_by_its_pods_cluster_label(shipping, tmp_path):
    """The patched heads' configuration as deployed, run by the collector built from its modules with the
    environment the pod gives it (CLUSTER_ENV from KubeRay's ray.io/cluster label): lines reach an OTLP store
    (VictoriaLogs) under that cluster's name."""
    processes = Processes()
    store = VictoriaLogs(processes, tmp_path / "store", free_port())
    try:
        store.start()
        config = shipping.one(CONFIG_MAP, "rayservice-logs-team-rayservice-sample-log-collector").plain["data"][
            "collector.yaml"].replace("http://loki.monitoring.svc:3100/otlp", store.otlp_url)
        logs = tmp_path / "ray" / "session_2026_12_04_10_00_00_000000_1" / "logs"
        logs.mkdir(parents=True)
        (logs / "gcs_server.out").write_text("".join(f"gcs line {i}\n" for i in range(5)))
        collector = Collector(processes, tmp_path / "collector", config,
                              {RAY_TEMP_DIR: str(tmp_path / "ray"), STATE_DIR: str(tmp_path / "state")},
                              {NODE_ENV: "rayservice-sample-x7k2p-head-abcde", NODE_TYPE_ENV: "head",
                               CLUSTER_ENV: "rayservice-sample-x7k2p"}, telemetry_port=free_port())
        assert collector.validate().returncode == 0
        collector.start()
        wait_until(lambda: len(store.query('"gcs line"')) == 5, 60,
                   f"5 lines in the store (see {tmp_path / 'collector' / 'collector.log'})")
        assert {(r["ray_io_cluster"], r["ray_node_type"]) for r in store.query('"gcs line"')} == {
            ("rayservice-sample-x7k2p", "head")}
    finally:
        processes.stop_all()


def test_loki_is_sized_for_the_patched_heads(shipping):
    """Two heads ship, 3 MB an hour each for 30 days, the volume filled to 80% (components/builders/logs/
    sizing.py): 6 GiB, where one node would be 3."""
    result = run_stack("minikube", rayClusters=TARGETS, logs="true", lokiStorage="persistentVolumeClaim",
                       logsRetention="30d", **PATCH_MODE)
    assert result.error is None, result.error
    claim = result.one("kubernetes:core/v1:PersistentVolumeClaim", "loki-data").plain
    assert claim["spec"]["resources"]["requests"]["storage"] == "6Gi"
