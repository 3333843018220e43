"""Scenario: Kubernetes discovery for real (conftest.py builds it). The stack's Prometheus, running the exact
prometheus.yml and rule file from its ConfigMap in-cluster as its ServiceAccount, discovers KubeRay's pods
through the API server and scrapes the real Ray nodes at their addresses. What it cannot show: the images'
own users and file modes (no containers), and the pod's self-scrape (`localhost:9090`), another port here."""

from __future__ import annotations

import subprocess
import time

from components.builders import overview_dashboard
from components.builders.logs.collector_config import NODE_ENV
from doctor.http import Http
from doctor.logs import node_names
from support.autoscaler import scale_up
from support.cluster_state import wait_for_pods
from support.control_plane import CLUSTER, NAMESPACE, sample_ray_cluster
from support.go_tools import build
from support.grafana_queries import load, requests, send
from support.in_cluster import start_ray
from support.live import Prometheus, http_json, wait_until
from support.paths import PROJECT_ROOT


def _ray_targets(prometheus: Prometheus) -> dict[tuple[str, str], dict]:
    return {(t["labels"]["job"], t["scrapeUrl"].split("/")[2]): t for t in prometheus.targets()
            if t["labels"]["job"] != "prometheus"}


def test_every_ray_endpoint_is_discovered_and_up_with_its_labels(discovery):
    head, worker = discovery.head, discovery.worker
    expected = {("ray", f"{head}:8080"), ("ray-autoscaler", f"{head}:44217"), ("ray-dashboard", f"{head}:44227"),
                ("ray", f"{worker}:8080")}
    wait_until(lambda: set(_ray_targets(discovery.prometheus)) == expected
               and all(t["health"] == "up" for t in _ray_targets(discovery.prometheus).values()),
               90, f"exactly {sorted(expected)}, up")
    pods = {p.status.podIP: p.metadata.name for p in discovery.cluster.plane.list("v1", "Pod", NAMESPACE)}
    for (job, address), target in _ray_targets(discovery.prometheus).items():
        labels = target["labels"]
        ip = address.split(":")[0]
        assert labels["ray_io_cluster"] == CLUSTER and labels["namespace"] == NAMESPACE, labels
        assert labels["pod"] == pods[ip] and labels["node"] == "minikube", labels
        assert labels["ray_node_type"] == ("head" if ip == head else "worker"), labels


def test_the_overviews_queries_return_data(discovery):
    prometheus = discovery.prometheus
    wait_until(lambda: len(prometheus.query("ray_node_cpu_utilization")) == 2, 60, "both nodes' CPU series")
    time.sleep(15)  # three scrapes: enough samples for the overview's rates
    overview = load(PROJECT_ROOT / "dashboards/ray-monitoring/overview.json")
    answers = [send(prometheus.url, request, time.time(), 300) for request in requests(overview, {})]
    assert not [a.error for a in answers if a.error]
    by_panel = {a.request.source: a for a in answers}
    assert by_panel["CPU utilisation per node #0"].series == 2, "one line per Ray node"
    drawn = [a.request.source for a in answers if a.series]
    assert len(drawn) >= len(answers) // 2, f"most panels draw from the discovered nodes: {drawn}"


def test_prometheus_names_each_ray_pod_as_its_log_collector_names_itself(discovery):
    """The doctor expects logs from every node Prometheus sees, by name (doctor/logs.py): the collector in each
    pod KubeRay made takes its name from the downward API's metadata.name, and the scrape labels that pod's
    series `pod` with the same name."""
    plane, prometheus = discovery.cluster.plane, discovery.prometheus
    wait_until(lambda: len(prometheus.query("ray_node_cpu_utilization")) >= 2, 60, "both nodes' CPU series")
    pods = {p.status.podIP: p for p in plane.list("v1", "Pod", NAMESPACE, selector=f"ray.io/cluster={CLUSTER}")}
    for pod in pods.values():
        (collector,) = [c for c in pod.spec.containers if c.name == "log-collector"]
        (named,) = [e for e in collector.env if e.name == NODE_ENV]
        assert named.valueFrom.fieldRef.fieldPath == "metadata.name", (pod.metadata.name, named)
    seen = node_names(Http(timeout=5), prometheus.url, "kubernetes")
    assert {pods[discovery.head].metadata.name, pods[discovery.worker].metadata.name} <= set(seen), seen
    assert set(seen) <= {p.metadata.name for p in pods.values()}, seen
    # The overview's node panels name each line as its collector names its node: their data link opens that
    # pod's lines (components/builders/overview_dashboard.py, by_node).
    (cpu,) = [q.expr for p in overview_dashboard.PANELS if p.title == "CPU utilisation per node" for q in p.queries]
    drawn = prometheus.query(cpu.replace("$Cluster", CLUSTER).replace("$SessionName", ".+")
                             .replace("$Instance", ".+").replace("$Nodes", "10").replace("$__range", "5m"))
    assert {line["metric"]["log_node"] for line in drawn} == set(seen), drawn
    # Where only patched heads ship (the stack's logsFrom matchers), only the head is expected.
    only = f'ray_node_type="head",ray_io_cluster=~"{CLUSTER}"'
    heads = node_names(Http(timeout=5), prometheus.url, "kubernetes", only)
    assert heads == [pods[discovery.head].metadata.name], heads


def test_a_worker_kuberay_adds_later_is_scraped_within_two_intervals(discovery, tmp_path):
    plane, network = discovery.cluster.plane, discovery.network
    scale_up(plane, NAMESPACE, CLUSTER, "workers", 1, tmp_path)  # as Ray's autoscaler asks KubeRay
    selector = f"ray.io/cluster={CLUSTER},ray.io/node-type=worker"
    try:
        workers = wait_for_pods(plane, NAMESPACE, selector, count=2)
    except AssertionError as error:
        states = [(p.metadata.name, p.status.phase, p.metadata.labels.to_dict(),
                   [(c.type, c.status, c.reason) for c in p.status.conditions or []])
                  for p in plane.list("v1", "Pod", NAMESPACE)]
        raise AssertionError(f"{error}: {states}") from None
    added = [p.status.podIP for p in workers if p.status.podIP != discovery.worker]
    (address,) = added
    network.add_pod(address)
    start_ray(network, address, discovery.ray_env, head=discovery.head)
    started = time.monotonic()
    wait_until(lambda: discovery.prometheus.target_up("ray", f"{address}:8080"), 60, "the added worker scraped")
    seconds = time.monotonic() - started
    print(f"added worker scraped {seconds:.1f} s after its ray start returned")
    # docs/configuration.md (scrapeInterval): a new Ray node is first scraped within about two intervals (5 s).
    assert seconds <= 2 * 5 + 2, seconds


def test_a_raycluster_in_a_namespace_the_stack_does_not_watch_is_not_discovered(discovery):
    plane = discovery.cluster.plane
    plane.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "elsewhere"}})
    other = sample_ray_cluster("elsewhere-cluster")
    other["metadata"]["namespace"] = "elsewhere"
    # A head alone, small enough to fit beside the stack's pods on minikube's node.
    other["spec"]["workerGroupSpecs"] = []
    for ray in other["spec"]["headGroupSpec"]["template"]["spec"]["containers"]:
        small = {"cpu": "100m", "memory": "256Mi"}
        ray["resources"] = {"requests": small, "limits": small}
    plane.create(other)
    wait_for_pods(plane, "elsewhere", "ray.io/cluster=elsewhere-cluster,ray.io/node-type=head")
    time.sleep(10)  # two scrape intervals: a watch would have delivered the pod by now
    reply = http_json(f"{discovery.prometheus.url}/api/v1/targets?state=any")["data"]
    seen = [t for t in reply["activeTargets"] + reply["droppedTargets"]
            if "elsewhere" in str(t.get("discoveredLabels", {})) or "elsewhere" in str(t.get("labels", {}))]
    assert not seen, seen


def test_prometheus_lists_and_watches_with_its_role_and_nothing_is_forbidden(discovery):
    log = (discovery.prometheus.workdir / "prometheus.log").read_text()
    assert "Starting Prometheus" in log, log[:2000]
    assert "forbidden" not in log.lower(), [line for line in log.splitlines() if "forbidden" in line.lower()][:5]
    # And no more than its Role: the account may not list pods cluster-wide, nor read Secrets where it watches.
    token = (discovery.workdir / "stack-prometheus" / "token").read_text()
    for verb, resource, namespace in (("list", "pods", None), ("get", "secrets", NAMESPACE)):
        args = ["auth", "can-i", verb, resource, f"--token={token}"] + \
            (["-n", namespace] if namespace else ["--all-namespaces"])
        done = subprocess.run([str(build("kubectl")), f"--kubeconfig={discovery.cluster.plane.kubeconfig}", *args],
                              capture_output=True, text=True, timeout=60)
        assert done.stdout.strip() == "no", (args[:3], done.stdout, done.stderr)
