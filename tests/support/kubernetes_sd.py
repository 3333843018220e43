"""Targets as Prometheus' kubernetes_sd (role pod) gives them, for the live relabeling tests: the live tier
runs no API server, so file_sd groups carry the same `__meta_kubernetes_*` labels."""

from __future__ import annotations

from support.live import LOOPBACK


def pod(name: str, namespace: str, address: str, port_name: str, phase: str = "Running",
        node_type: str | None = None, cluster: str | None = "raycluster-kuberay") -> dict:
    """One target as kubernetes_sd role pod would produce it: one per declared container port."""
    labels = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": name,
        "__meta_kubernetes_pod_ip": address.split(":")[0],
        "__meta_kubernetes_pod_phase": phase,
        "__meta_kubernetes_pod_node_name": "minikube",
        "__meta_kubernetes_pod_container_name": "ray-head" if node_type == "head" else "ray-worker",
        "__meta_kubernetes_pod_container_port_name": port_name,
        "__meta_kubernetes_pod_container_port_number": address.split(":")[1],
    }
    if node_type is not None:
        labels["__meta_kubernetes_pod_label_ray_io_node_type"] = node_type
        labels["__meta_kubernetes_pod_labelpresent_ray_io_node_type"] = "true"
    if cluster is not None and node_type is not None:
        labels["__meta_kubernetes_pod_label_ray_io_cluster"] = cluster
    return {"targets": [address], "labels": labels}


# Where each declared port of the created cluster's pods points: the live Ray endpoints.
LIVE_PORTS = {("head", "metrics"): 8080, ("head", "as-metrics"): 44217, ("head", "dash-metrics"): 44227,
              ("worker", "metrics"): 8081}


def kuberay_pods(cluster: dict) -> list[dict]:
    """Targets kubernetes_sd (role pod) gives for the pods KubeRay makes from `cluster`: one per
    declared container port, with the labels KubeRay puts on them (ray.io/cluster, node-type, group)."""
    name, namespace, spec = cluster["metadata"]["name"], cluster["metadata"]["namespace"], cluster["spec"]
    groups = [("head", "headgroup", f"{name}-head-abcde", spec["headGroupSpec"])]
    groups += [("worker", g["groupName"], f"{name}-{g['groupName']}-worker-fghij", g) for g in spec["workerGroupSpecs"]]
    targets = []
    for node_type, group, pod_name, group_spec in groups:
        for container in group_spec["template"]["spec"]["containers"]:
            if not container.get("ports"):
                # A container without ports (the log collector) is one target at the pod's IP, no port labels
                # (Prometheus v0.313.2 discovery/kubernetes/pod.go: "We don't have a port ...").
                anonymous = pod(pod_name, namespace, f"{LOOPBACK}:0", "", node_type=node_type, cluster=name)
                for label in ("__meta_kubernetes_pod_container_port_name",
                              "__meta_kubernetes_pod_container_port_number"):
                    del anonymous["labels"][label]
                anonymous["labels"]["__meta_kubernetes_pod_container_name"] = container["name"]
                targets.append({**anonymous, "targets": [LOOPBACK]})
            for port in container.get("ports", []):
                live = LIVE_PORTS.get((node_type, port["name"]), 10_000 + port["containerPort"] % 10_000)
                target = pod(pod_name, namespace, f"{LOOPBACK}:{live}", port["name"], node_type=node_type,
                             cluster=name)
                target["labels"].update({
                    "__meta_kubernetes_pod_container_name": container["name"],
                    "__meta_kubernetes_pod_label_ray_io_group": group,
                    "__meta_kubernetes_pod_label_ray_io_is_ray_node": "yes",
                    "__meta_kubernetes_pod_label_app_kubernetes_io_created_by": "kuberay-operator",
                })
                targets.append(target)
    return targets
