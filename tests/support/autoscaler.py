"""Ray's own autoscaler code against a control plane: the KubeRay node provider of the pinned `ray` package
(ray/autoscaler/_private/kuberay/node_provider.py), in a process of its own as the autoscaler container runs
it, with a token of the head's ServiceAccount where the container's mount puts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.control_plane import ControlPlane

# What the autoscaler's monitor does in one update that launches workers: read the cluster and its pods,
# ask for `count` more of a group, submit the batched scale request (a JSON patch of the RayCluster).
_SCALE_UP = """
import json, sys
from ray.autoscaler._private.kuberay import node_provider
from ray.autoscaler.tags import TAG_RAY_USER_NODE_TYPE

args = json.loads(sys.argv[1])
node_provider.IN_CLUSTER_TOKEN_PATH, node_provider.IN_CLUSTER_CA_CERT_PATH = args["token"], args["ca"]
provider = node_provider.KubeRayNodeProvider(
    {"namespace": args["namespace"], "disable_node_updaters": True, "disable_launch_config_check": True,
     "foreground_node_launch": True, "worker_liveness_check": False}, args["cluster"])
provider.non_terminated_nodes({})
provider.create_node({}, {TAG_RAY_USER_NODE_TYPE: args["group"]}, args["count"])
provider.post_process()
"""


def service_account_token(plane: ControlPlane, namespace: str, service_account: str, seconds: int = 600) -> str:
    from kubernetes import client

    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[],
                                                                                  expiration_seconds=seconds))
    return client.CoreV1Api(plane.client()).create_namespaced_service_account_token(
        service_account, namespace, request).status.token


def scale_up(plane: ControlPlane, namespace: str, cluster: str, group: str, count: int, workdir: Path) -> None:
    """As Ray's autoscaler in `cluster`'s head: KubeRay names the head's ServiceAccount after the cluster."""
    token, ca = workdir / "token", workdir / "ca.crt"
    token.write_text(service_account_token(plane, namespace, cluster))
    ca.write_bytes((plane.workdir / "certs" / "apiserver.crt").read_bytes())
    host, port = plane.url.removeprefix("https://").rsplit(":", 1)
    heads = plane.list("v1", "Pod", namespace, f"ray.io/cluster={cluster},ray.io/node-type=head")
    env = {**os.environ, "KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT_HTTPS": port,
           **({"RAY_HEAD_POD_NAME": heads[0].metadata.name} if heads else {}),
           "NO_PROXY": host, "no_proxy": host}
    arguments = {"token": str(token), "ca": str(ca), "namespace": namespace, "cluster": cluster, "group": group,
                 "count": count}
    result = subprocess.run([sys.executable, "-c", _SCALE_UP, json.dumps(arguments)], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"Ray's node provider failed:\n{result.stderr[-3000:]}"
