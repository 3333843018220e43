"""A rotated Grafana admin password reaches Grafana's database: the script each stack runs before Grafana
starts, taken from what the stacks deploy (the minikube stack's init container, the aws stack's Compose
entrypoint as Compose v2 hands it to the container) and run with sh. `grafana` is a stand-in for the image's
binary that records its arguments and standard input: what Grafana's CLI then does is its own
(grafana_admin_password.py cites its docs)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
import yaml

from components.builders.grafana_admin_password import IMAGE_ENTRYPOINT, MARKER
from support.grafana_container import GrafanaContainer
from support.stacks import Run
from support.tools import compose_tools

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def kubernetes_script(minikube: Run) -> str:
    pod = minikube.one(DEPLOYMENT, "grafana-deployment").plain["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["image"] == next(c["image"] for c in pod["containers"] if c["name"] == "grafana")
    mounted = {m["mountPath"] for m in init["volumeMounts"]}
    assert {"/var/lib/grafana", "/etc/grafana/grafana.ini", "/etc/grafana/secrets"} <= mounted
    assert init["command"][:2] == ["sh", "-c"]
    return init["command"][2]


def compose_script(aws: Run, tmp_path: Path) -> tuple[str, str]:
    """The script and the GF_PATHS_CONFIG the service sets."""
    (tmp_path / "compose.yaml").write_text(aws.config()["/opt/ray-monitoring/compose.yaml"])
    (tmp_path / ".env").write_text("GRAFANA_IFRAME_HOST=http://localhost:3000\n")
    v2 = compose_tools()[0]
    rendered = subprocess.run([v2, "-f", str(tmp_path / "compose.yaml"), "config"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
    assert rendered.returncode == 0, rendered.stderr
    service = yaml.safe_load(rendered.stdout)["services"]["grafana"]
    entrypoint = service["entrypoint"]
    assert entrypoint[:2] == ["sh", "-c"]
    # Compose hands the container a `$` for each `$$` (the Compose spec's escape); `config` prints it escaped.
    script = entrypoint[2].replace("$$", "$")
    assert script.rstrip().endswith(f"exec {IMAGE_ENTRYPOINT}"), script[-200:]
    return script.rstrip().removesuffix(f"exec {IMAGE_ENTRYPOINT}"), service["environment"]["GF_PATHS_CONFIG"]


@pytest.fixture(params=["kubernetes", "compose"])
def grafana(request, minikube, aws, tmp_path) -> GrafanaContainer:
    if request.param == "kubernetes":
        return GrafanaContainer(tmp_path / "container", kubernetes_script(minikube))
    script, config = compose_script(aws, tmp_path)
    return GrafanaContainer(tmp_path / "container", script, config)


def test_a_rotated_admin_password_is_set_in_grafanas_database_once(grafana):
    first = grafana.start("first-password")
    assert first.returncode == 0, first.stderr
    assert grafana.cli_calls() == "", "no database yet: Grafana itself creates the admin with the password"
    (grafana.data / "grafana.db").write_text("sqlite")  # Grafana's first start made its database

    assert grafana.start("first-password").returncode == 0
    assert grafana.cli_calls() == "", "an unchanged password is not set again (a change made in Grafana stays)"

    rotated = grafana.start("second-password")
    assert rotated.returncode == 0, rotated.stderr
    calls = grafana.cli_calls().splitlines()
    config = grafana.env["GF_PATHS_CONFIG"]
    assert calls == [f"cli --homepath /usr/share/grafana --config {config} admin reset-admin-password "
                     "--password-from-stdin", "second-password"]
    assert grafana.start("second-password").returncode == 0
    assert len(grafana.cli_calls().splitlines()) == 2, "applied once"


def test_a_failed_reset_stops_grafana_from_starting_and_is_retried(grafana):
    grafana.start("first-password")
    (grafana.data / "grafana.db").write_text("sqlite")
    failed = grafana.start("second-password", cli_exit=1)
    assert failed.returncode != 0, "Grafana must not start on the old password after a rotation"
    retried = grafana.start("second-password")
    assert retried.returncode == 0 and grafana.cli_calls().count("reset-admin-password") == 2


def test_what_the_script_keeps_on_the_volume_needs_the_secret_key_to_check_a_guess(grafana):
    grafana.start("first-password")
    kept = (grafana.data / MARKER).read_text().strip()
    assert "first-password" not in kept
    assert kept != hashlib.sha256(b"first-password").hexdigest()
    assert kept == hashlib.sha256(b"key-1first-password").hexdigest()
