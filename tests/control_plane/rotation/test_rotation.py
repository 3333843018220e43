"""Scenario: the user rotates Ray's token (`pulumi config set --secret rayAuthToken`), then `pulumi up`. The new
token is a new Secret (pulumi-kubernetes replaces a Secret whose data changes; auto-named, the new one exists
before the old one goes), and every Ray container of the RayCluster, head, workers and autoscaler, names it:
the template change makes KubeRay (upgradeStrategy Recreate) recreate all pods together, so no worker starts
with a token its head lacks."""

from __future__ import annotations

import base64
import secrets

from support.cluster_state import pods, running
from support.control_plane import CLUSTER, NAMESPACE
from support.grafana_container import GrafanaContainer
from support.live import wait_until


def _token_secrets(plane) -> set[str]:
    """The Secret each Ray container's RAY_AUTH_TOKEN comes from, across the RayCluster's templates."""
    spec = plane.read("ray.io/v1", "RayCluster", CLUSTER, NAMESPACE).to_dict()["spec"]
    containers = [*spec["headGroupSpec"]["template"]["spec"]["containers"],
                  *[c for group in spec["workerGroupSpecs"] for c in group["template"]["spec"]["containers"]],
                  spec["autoscalerOptions"]]
    return {item["valueFrom"]["secretKeyRef"]["name"] for c in containers for item in c.get("env", [])
            if item["name"] == "RAY_AUTH_TOKEN"}


def test_a_rotated_ray_token_reaches_every_ray_container_through_a_new_secret(deployed):
    plane = deployed.cluster.plane
    (before,) = _token_secrets(plane)
    token = secrets.token_hex(24)
    deployed.project.secret_config["rayAuthToken"] = token
    outcome = deployed.project.run("up")
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    (after,) = _token_secrets(plane)
    assert after != before
    stored = plane.read("v1", "Secret", after, NAMESPACE).data["auth_token"]
    assert base64.b64decode(stored).decode() == token
    assert plane.find("v1", "Secret", before, NAMESPACE) is None, "the old token's Secret is deleted"
    replaced = {urn.rsplit("::", 1)[-1] for op, urn, _ in outcome.steps if op in ("create-replacement", "replace")}
    assert replaced == {"ray-cluster-auth-token-secret"}, outcome.steps
    assert str(token) not in outcome.log, "the token is never printed"


def _grafana_secret(plane) -> str:
    pod = plane.read("apps/v1", "Deployment", "grafana", "monitoring").to_dict()["spec"]["template"]["spec"]
    (admin,) = [v for v in pod["volumes"] if v["name"] == "admin"]
    return admin["secret"]["secretName"]


def test_a_rotated_grafana_secret_key_and_password_roll_grafana_onto_a_new_secret(deployed, tmp_path):
    # Grafana reads its secret_key and admin password files as it starts: the rotated ones must come with a restart.
    plane = deployed.cluster.plane
    before = _grafana_secret(plane)
    key, password = secrets.token_hex(24), secrets.token_hex(16)
    deployed.project.secret_config.update(grafanaSecretKey=key, grafanaAdminPassword=password)
    outcome = deployed.project.run("up")
    assert outcome.error == "", f"{outcome.error}\n{outcome.log[-4000:]}"
    after = _grafana_secret(plane)
    assert after != before and plane.find("v1", "Secret", before, "monitoring") is None
    data = plane.read("v1", "Secret", after, "monitoring").data
    assert base64.b64decode(data["admin-password"]).decode() == password
    assert base64.b64decode(data["secret-key"]).decode() == key
    updated = {urn.rsplit("::", 1)[-1] for op, urn, _ in outcome.steps if op == "update"}
    assert "grafana-deployment" in updated, outcome.steps
    # Grafana keeps the password it first started with in its database: the pod the rollout starts (admitted
    # under the namespace's restricted Pod Security) runs the admin-password init container first, whose script
    # sets the new password there, from the new Secret's file, once.
    def on_new_secret() -> list:
        return [p for p in pods(plane, "monitoring", "app.kubernetes.io/name=grafana")
                if running(p) and any(v.secret and v.secret.secretName == after for v in p.spec.volumes)]

    wait_until(on_new_secret, 180, "a running Grafana pod on the new Secret", interval=1)
    (pod,) = on_new_secret()
    (init,) = pod.spec.initContainers
    assert {m.mountPath for m in init.volumeMounts} >= {"/etc/grafana/secrets", "/var/lib/grafana"}
    grafana = GrafanaContainer(tmp_path / "grafana", init.command[2])
    assert grafana.start("the-first-password").returncode == 0
    (grafana.data / "grafana.db").write_text("sqlite")
    assert grafana.start(password).returncode == 0
    assert grafana.cli_calls().splitlines()[1:] == [password], "the new password, on standard input"
