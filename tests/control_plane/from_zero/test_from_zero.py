"""Scenario 1, from zero: `pulumi up --stack minikube` by the real Pulumi engine and pulumi-kubernetes
provider on a cluster holding only minikube's node. The KubeRay chart comes from a Helm repository on
127.0.0.1 (kuberayChartRepository), KubeRay's operator creates the head and worker pods, kwok runs them;
Prometheus' and Grafana's Deployments become available (kube-controller-manager, kube-scheduler)."""

from __future__ import annotations

from support.cluster_state import RAY_HEAD_VARIABLES, available, container, env, running, wait_for_pods
from support.control_plane import CLUSTER, MINIKUBE_ALLOCATABLE, NAMESPACE


def test_pulumi_up_from_zero_succeeds(deployed):
    outcome = deployed.first_up
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    assert outcome.changes.get("create", 0) > 20 and set(outcome.changes) == {"create"}, outcome.changes


def test_the_kuberay_chart_came_from_the_configured_repository(deployed):
    assert "/index.yaml" in deployed.cluster.charts.requests
    assert "/kuberay-operator-1.7.0.tgz" in deployed.cluster.charts.requests
    release = deployed.cluster.plane.read("apps/v1", "Deployment", "kuberay-operator", "kuberay-system")
    assert release.metadata.labels["app.kubernetes.io/managed-by"] == "Helm"


def test_kuberay_creates_the_head_and_workers_and_the_head_has_the_four_variables(deployed):
    plane = deployed.cluster.plane
    selector = f"ray.io/cluster={CLUSTER}"
    (head,) = wait_for_pods(plane, NAMESPACE, f"{selector},ray.io/node-type=head")
    wait_for_pods(plane, NAMESPACE, f"{selector},ray.io/node-type=worker")  # rayWorkerMinReplicas: 1
    # The label the Prometheus NetworkPolicy and the dashboard NodePort select heads by, beside the node type.
    assert head.metadata.labels["app.kubernetes.io/created-by"] == "kuberay-operator"
    variables = env(container(head.spec, "ray-head"))
    assert set(RAY_HEAD_VARIABLES) <= set(variables), sorted(variables)
    assert variables["RAY_PROMETHEUS_HOST"] == "http://prometheus.monitoring.svc:9090"
    assert variables["RAY_GRAFANA_HOST"] == "http://grafana.monitoring.svc:3000"
    assert variables["RAY_PROMETHEUS_NAME"] == "Prometheus"
    assert running(head) and head.status.podIP  # kwok: scheduled on minikube's node, an IP, Ready


def test_kuberay_shares_one_ray_logs_volume_between_ray_the_autoscaler_and_the_log_collector(deployed):
    """KubeRay's pod builder mounts its own `ray-logs` emptyDir at /tmp/ray in the Ray container and the
    autoscaler only where nothing is mounted there yet, and reuses a volume of that name
    (ray-operator/controllers/ray/common/pod.go, addEmptyDir, at v1.5.0 as built here and v1.7.0): so with the
    stack's volume of that name, every container of the head sees one /tmp/ray, and the collector reads what
    Ray and the autoscaler write."""
    plane = deployed.cluster.plane
    selector = f"ray.io/cluster={CLUSTER}"
    (head,) = wait_for_pods(plane, NAMESPACE, f"{selector},ray.io/node-type=head")
    (worker, *_) = wait_for_pods(plane, NAMESPACE, f"{selector},ray.io/node-type=worker")
    for pod, containers in ((head, {"ray-head", "autoscaler", "log-collector"}), (worker, {"ray-worker",
                                                                                           "log-collector"})):
        assert [v.name for v in pod.spec.volumes].count("ray-logs") == 1
        at_tmp_ray = {c.name: m for c in pod.spec.containers for m in c.volumeMounts or []
                      if m.mountPath == "/tmp/ray"}
        assert set(at_tmp_ray) == containers and {m.name for m in at_tmp_ray.values()} == {"ray-logs"}
        assert at_tmp_ray["log-collector"].readOnly and not at_tmp_ray[pod.spec.containers[0].name].readOnly
    assert head.spec.containers[0].name == "ray-head"  # KubeRay's Ray container stays the first


def test_prometheus_grafana_and_loki_deployments_become_available(deployed):
    plane = deployed.cluster.plane
    for name in ("prometheus", "grafana", "loki"):
        assert available(plane, "monitoring", name), f"Deployment {name} not available"
    # Scheduled within what minikube's 4 CPUs and 8 GiB leave beside its own pods (the real scheduler):
    # kwok's node-initialize stage keeps a node's own allocatable (kustomize/stage/node/fast, v0.7.0).
    node = plane.read("v1", "Node", "minikube").to_dict()
    assert node["status"]["allocatable"] == MINIKUBE_ALLOCATABLE
    assert {pod.spec.nodeName for pod in plane.list("v1", "Pod")} == {"minikube"}
