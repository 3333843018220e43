"""Every Kubernetes object the minikube stack registers, checked by the tools that consume them."""

from __future__ import annotations

import copy
import subprocess

import jsonschema
import kubernetes_validate
import pytest
import yaml

from components.builders import prometheus_config
from components.builders.logs import sidecar
from components.builders.logs.collector_config import NODE_ENV, NODE_TYPE_ENV, RAY_TEMP_DIR
from support.crds import assert_strictly_valid, merge_list_map, v1_schema
from support.kubernetes_api import ray_clusters_in
from support.live import Processes
from support.log_pipeline import Collector
from support.manifests import KUBERNETES_VERSION, kubernetes_objects, manifest
from support.stacks import PATCH_MODE, run_stack
from support.tools import promtool
from support.upstream import upstream_file, upstream_files

RAY_CLUSTER_CRD = "schemas/ray.io_rayclusters.v1.7.0.yaml"
RAY_CLUSTER_SAMPLES = upstream_files("fixtures/raycluster.")

@pytest.mark.parametrize("mode", ["created", "patched"])
def test_every_object_passes_kubernetes_validate_strict(mode, minikube, minikube_patch):
    objects = kubernetes_objects(minikube if mode == "created" else minikube_patch)
    assert len(objects) >= 15
    for resource in objects:
        body = manifest(resource)
        try:
            kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{resource.type} {resource.name}: {error.message} at {list(error.path)}")


def test_validator_rejects_a_broken_object(minikube):
    """The check above can fail: an unknown field in a Deployment is refused in strict mode."""
    deployment = manifest(minikube.one("kubernetes:apps/v1:Deployment", "grafana-deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_strict_check_catches_an_unknown_field():
    with pytest.raises(AssertionError):
        assert_strictly_valid({"spec": {"headGroupSpec": {"template": {}, "rayStartParam": {}}}}, RAY_CLUSTER_CRD)


def test_patch_validates_against_kuberay_crd(minikube_patch):
    patch = manifest(minikube_patch.one("kubernetes:ray.io/v1:RayClusterPatch", "ray-cluster-head-env"))
    patch["metadata"].pop("annotations")
    assert_strictly_valid(patch, RAY_CLUSTER_CRD)


def test_created_ray_cluster_validates_against_kuberay_crd(minikube):
    cluster = manifest(minikube.one("kubernetes:ray.io/v1:RayCluster", "ray-cluster-cluster"))
    assert cluster["apiVersion"] == "ray.io/v1" and cluster["kind"] == "RayCluster"
    assert_strictly_valid(cluster, RAY_CLUSTER_CRD)
    # Its containers are Kubernetes containers: strict for the built-in schema too.
    spec = cluster["spec"]
    for template in [spec["headGroupSpec"]["template"], *[g["template"] for g in spec["workerGroupSpecs"]]]:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": template["spec"]}
        kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


def chart_values() -> dict:
    return yaml.safe_load(upstream_file("charts/kuberay-operator-1.7.0/values.yaml").read_text())


def test_kuberay_release_is_pinned_and_sets_only_chart_values(minikube):
    from components.versions import KUBERAY_VERSION

    release = minikube.one("kubernetes:helm.sh/v3:Release", "kuberay-release").plain
    chart = yaml.safe_load(upstream_file("charts/kuberay-operator-1.7.0/Chart.yaml").read_text())
    assert release["chart"] == chart["name"] == "kuberay-operator"
    assert release["version"] == chart["version"] == KUBERAY_VERSION
    assert release["repositoryOpts"] == {"repo": "https://ray-project.github.io/kuberay-helm/"}
    # The stack creates the namespace itself, labelled for Pod Security (tests/stacks/test_pod_security.py).
    assert release["namespace"] == "kuberay-system" and release["createNamespace"] is False
    values, known = release["values"], chart_values()
    assert values and set(values) <= set(known), f"not in the chart's values.yaml: {set(values) - set(known)}"
    # `resources` goes to the operator's container as is: a Kubernetes ResourceRequirements.
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
           "spec": {"containers": [{"name": "x", "image": "x", "resources": values["resources"]}]}}
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


def test_kuberay_chart_comes_from_the_configured_repository():
    mirror = "https://charts.example.internal/kuberay/"  # a mirror, where the internet is out of reach
    result = run_stack("minikube", kuberayChartRepository=mirror)
    assert result.error is None, result.error
    release = result.one("kubernetes:helm.sh/v3:Release", "kuberay-release").plain
    assert release["repositoryOpts"] == {"repo": mirror.rstrip("/")}


def test_values_check_can_fail():
    assert "watchNamespaces" not in chart_values() and "singleNamespaceInstall" in chart_values()


def test_crd_merges_containers_and_env_by_name():
    """The patch relies on these markers to merge, not replace, the head's containers and env."""
    pod = v1_schema(RAY_CLUSTER_CRD)["properties"]["spec"]["properties"]["headGroupSpec"]["properties"]["template"][
        "properties"]["spec"]["properties"]
    for field in (pod["containers"], pod["containers"]["items"]["properties"]["env"]):
        assert field["x-kubernetes-list-type"] == "map" and field["x-kubernetes-list-map-keys"] == ["name"]


@pytest.mark.parametrize("sample", RAY_CLUSTER_SAMPLES)
def test_patched_sample_keeps_its_env_and_stays_valid(sample, kubernetes_api):
    (cluster,) = ray_clusters_in(upstream_file(sample))
    cluster = kubernetes_api.add(cluster, namespace="ray-system")
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    result = run_stack("minikube", rayClusterName=cluster["metadata"]["name"], rayHeadContainer=head["name"],
                       **PATCH_MODE)
    assert result.error is None, result.error
    spec = result.one("kubernetes:ray.io/v1:RayClusterPatch", "ray-cluster-head-env").plain["spec"]
    containers = spec["headGroupSpec"]["template"]["spec"]["containers"]
    before = {e["name"]: e for e in head.get("env", [])}
    merged = copy.deepcopy(cluster)
    merged["spec"]["upgradeStrategy"] = spec["upgradeStrategy"]
    merged_pod = merged["spec"]["headGroupSpec"]["template"]["spec"]
    merged_pod["containers"] = merge_list_map(merged_pod["containers"], [
        {**c, "env": merge_list_map(next(x for x in merged_pod["containers"] if x["name"] == c["name"])
                                    .get("env", []), c["env"])} for c in containers])
    jsonschema.validate(merged, v1_schema(RAY_CLUSTER_CRD))
    (merged_head,) = [c for c in merged_pod["containers"] if c["name"] == head["name"]]
    assert merged_head["image"] == head["image"] and merged_head["ports"] == head["ports"]
    env = {e["name"]: e["value"] for e in merged_head["env"]}
    assert env["RAY_GRAFANA_HOST"] == "http://grafana.monitoring.svc:3000"
    assert set(before) | {"RAY_GRAFANA_HOST", "RAY_PROMETHEUS_HOST", "RAY_PROMETHEUS_NAME",
                          "RAY_GRAFANA_IFRAME_HOST"} == set(env)




def test_deployed_prometheus_config_passes_promtool(minikube, tmp_path):
    text = minikube.one("kubernetes:core/v1:ConfigMap", "prometheus-config").plain["data"]["prometheus.yml"]
    config = yaml.safe_load(text)
    # The discovery block itself is what Prometheus 2.x/3.x documents for role pod.
    for job in config["scrape_configs"][1:]:
        (sd,) = job["kubernetes_sd_configs"]
        assert sd["role"] == "pod" and sd["namespaces"] == {"names": ["ray-system"]}
        assert {s["role"] for s in sd["selectors"]} == {"pod"}
    # As deployed, Kubernetes discovery included: the pinned promtool has it (Debian's had not).
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    checked = subprocess.run([promtool(), "check", "config", "--syntax-only", str(path)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_promtool_rejects_a_broken_relabel_rule(tmp_path):
    config = prometheus_config.kubernetes_config(prometheus_config.ScrapeSettings("10s"), ("ray-system",))
    config["scrape_configs"][1]["relabel_configs"][1]["action"] = "keeep"
    path = tmp_path / "prometheus.yml"
    path.write_text(prometheus_config.render(config))
    checked = subprocess.run([promtool(), "check", "config", "--syntax-only", str(path)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode != 0


def _pods_collector(config_text: str, workdir) -> Collector:
    """The Ray pods' collector configuration with the pod's paths on this machine, as validate reads it."""
    return Collector(Processes(), workdir, config_text, {RAY_TEMP_DIR: str(workdir / "ray"),
                                                         sidecar.STATE_DIR: str(workdir / "state")},
                     {NODE_ENV: "ray-training-cluster-head-abcde", NODE_TYPE_ENV: "head"})


def test_the_ray_pods_collector_configuration_passes_the_collectors_validate(minikube, tmp_path):
    text = minikube.one("kubernetes:core/v1:ConfigMap", "ray-cluster-log-collector").plain["data"]["collector.yaml"]
    checked = _pods_collector(text, tmp_path).validate()
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_collectors_validate_rejects_a_misspelt_exporter_key(minikube, tmp_path):
    text = minikube.one("kubernetes:core/v1:ConfigMap", "ray-cluster-log-collector").plain["data"]["collector.yaml"]
    checked = _pods_collector(text.replace("compression: gzip", "compresion: gzip"), tmp_path).validate()
    assert checked.returncode != 0 and "compresion" in checked.stdout + checked.stderr
