"""Secure by default, measured: checkov on every Kubernetes object, secrets, exposure, the users' CI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from components.constants import PROMETHEUS_UID
from stacks.settings.presets import MINIKUBE
from support.paths import PROJECT_ROOT
from support.pulumi_internals import is_secret, reveal
from support.stacks import USERS_CLUSTER, Run, run_stack, written_files

SKIPS = yaml.safe_load((PROJECT_ROOT / "tests" / "checkov-skips.yaml").read_text())


def render_kubernetes(result: Run, directory: Path) -> set[str]:
    """Writes each Kubernetes object for checkov; returns them as checkov names them (Kind.namespace.name)."""
    rendered = set()
    for resource in result.resources:
        if resource.type.startswith("kubernetes:") and not resource.type.endswith("Patch"):
            body = resource.plain
            # An auto-named object gets its resource name and a random suffix from the provider.
            body.setdefault("metadata", {}).setdefault("name", f"{resource.name}-a1b2c3d4")
            (directory / f"{resource.name}.yaml").write_text(yaml.safe_dump(body))
            metadata = body.get("metadata", {})
            rendered.add(f"{body.get('kind')}.{metadata.get('namespace', 'default')}.{metadata.get('name')}")
    return rendered


def checkov(directory: Path) -> dict[str, list[tuple[str, str]]]:
    """One checkov run over every sub-directory of `directory` (its start-up is most of its time):
    sub-directory name -> sorted (check, resource) of the failed checks in it."""
    binary = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
    assert binary.exists(), "checkov is missing: tests/run installs tests/requirements-checkov.txt into .venv-checkov"
    result = subprocess.run([str(binary), "-d", str(directory), "--framework", "kubernetes", "-o", "json",
                             "--quiet"], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports), result.stdout[:2000]
    assert sum(r["summary"]["resource_count"] for r in reports) > 0, "checkov scanned nothing"
    failed: dict[str, list[tuple[str, str]]] = {case.name: [] for case in directory.iterdir()}
    for check in (c for r in reports for c in r["results"]["failed_checks"]):
        failed[check["file_path"].strip("/").split("/")[0]].append((check["check_id"], check["resource"]))
    return {case: sorted(checks) for case, checks in failed.items()}


RECEIVERS = {"alertReceivers": [{"name": "oncall", "type": "webhook", "url": "https://hooks.example.com/x"}]}
CHECKOV_CASES = {
    "minikube": ({}, {}),
    "cluster-wide-persistent-alerting": ({"watchAllNamespaces": "true", "prometheusStorage": "persistentVolumeClaim",
                                          "grafanaStorage": "persistentVolumeClaim"}, RECEIVERS),
}


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory) -> tuple[dict[str, set[str]], dict[str, list[tuple[str, str]]]]:
    """Each case's rendered objects and its checkov findings; the case "insecure" is the default
    stack with a privileged Grafana container, which checkov must flag."""
    root = tmp_path_factory.mktemp("checkov")
    rendered = {}
    for case, (overrides, secrets) in CHECKOV_CASES.items():
        result = run_stack("minikube", secrets=secrets, **overrides)
        assert result.error is None, result.error
        (root / case).mkdir()
        rendered[case] = render_kubernetes(result, root / case)
    insecure = root / "insecure"
    insecure.mkdir()
    render_kubernetes(run_stack("minikube"), insecure)
    deployment = yaml.safe_load((insecure / "grafana-deployment.yaml").read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    (insecure / "grafana-deployment.yaml").write_text(yaml.safe_dump(deployment))
    return rendered, checkov(root)


@pytest.mark.parametrize("case", CHECKOV_CASES)
def test_checkov_finds_nothing_but_the_listed_exceptions(case, checkov_report):
    rendered, findings = checkov_report
    assert len(rendered[case]) >= 20
    allowed = {(skip["check"], resource) for skip in SKIPS for resource in skip["resources"]
               if resource in rendered[case]}
    failed = set(findings[case])
    assert failed <= allowed, f"new checkov findings: {sorted(failed - allowed)}"
    assert allowed <= failed, f"listed exceptions that no longer fail: {sorted(allowed - failed)}"
    assert all(skip["reason"].strip() for skip in SKIPS)


def test_checkov_flags_an_insecure_object(checkov_report):
    _, findings = checkov_report
    assert ("CKV_K8S_16", "Deployment.monitoring.grafana") in findings["insecure"]
    assert ("CKV_K8S_16", "Deployment.monitoring.grafana") not in findings["minikube"]


# --- exposure --------------------------------------------------------------------------------------

def kubernetes_exposure(result: Run) -> set[tuple[str, str, int]]:
    """(Service, type, port reachable from outside the cluster: nodePort, or port for LoadBalancer)."""
    assert result.error is None and result.resources, result.error
    exposed = set()
    for service in result.of_type("kubernetes:core/v1:Service"):
        spec = service.plain["spec"]
        for port in spec["ports"]:
            if spec.get("type") == "NodePort":
                exposed.add((service.plain["metadata"]["name"], "NodePort", port.get("nodePort", -1)))
            if spec.get("type") == "LoadBalancer":
                exposed.add((service.plain["metadata"]["name"], "LoadBalancer", port["port"]))
    return exposed


def aws_exposure(result: Run) -> set[tuple[int, str]]:
    rules = result.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    return {(r.plain.get("fromPort", -1), r.plain.get("cidrIpv4") or r.plain.get("cidrIpv6")) for r in rules
            if "referencedSecurityGroupId" not in r.plain}


def test_exposure_of_the_shipped_stacks():
    assert kubernetes_exposure(run_stack("minikube")) == {
        ("grafana", "NodePort", 30300), ("ray-training-cluster-dashboard-nodeport", "NodePort", 30265)}
    assert aws_exposure(run_stack("aws")) == set(), "nothing reachable from outside AWS by default"


def test_code_defaults_expose_nothing():
    from support.stacks import run

    # The minikube stack with each value its preset sets dropped (an empty value) is the code's defaults.
    dropped = {f"ray-monitoring:{key}": "" for key in MINIKUBE.values}
    assert kubernetes_exposure(run("minikube", {**dropped, "ray-monitoring:rayClusterName": USERS_CLUSTER})) == set()
    assert kubernetes_exposure(run("eks", {"ray-monitoring:platform": "kubernetes",
                                           "ray-monitoring:rayClusterName": USERS_CLUSTER})) == set()


def test_prometheus_is_never_public():
    for overrides in ({}, {"grafanaServiceType": "LoadBalancer", "grafanaNodePort": "30300",
                           "grafanaLoadBalancerSourceRanges": ["203.0.113.0/24"]}):
        result = run_stack("minikube", **overrides)
        prometheus = result.one("kubernetes:core/v1:Service", "prometheus-service").plain
        assert prometheus["spec"]["type"] == "ClusterIP"
        policy = result.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "prometheus-network-policy").plain
        peers = policy["spec"]["ingress"][0]["from"]
        assert peers[0] == {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "grafana",
                                                             "app.kubernetes.io/instance": "grafana"}}}
        assert all(p["podSelector"] == {"matchLabels": {"ray.io/node-type": "head",
                                                         "app.kubernetes.io/created-by": "kuberay-operator"}}
                   for p in peers[1:])
    opened = aws_exposure(run_stack("aws", allowedCidrs=["203.0.113.7/32"]))
    assert opened == {(port, "203.0.113.7/32") for port in (3000, 9090)}, "8265 only with openRayDashboard"


def test_a_grafana_load_balancer_admits_only_the_named_networks_and_warns():
    # Kubernetes Service API, spec.loadBalancerSourceRanges: cloud load balancers admit only these CIDRs.
    result = run_stack("minikube", grafanaServiceType="LoadBalancer",
                       grafanaLoadBalancerSourceRanges=["203.0.113.0/24"])
    assert result.error is None, result.error
    spec = result.one("kubernetes:core/v1:Service", "grafana-service").plain["spec"]
    assert spec["type"] == "LoadBalancer" and spec["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    assert any("plain HTTP" in line and "203.0.113.0/24" in line for line in result.logs), result.logs
    internal = run_stack("minikube")
    assert "loadBalancerSourceRanges" not in internal.one("kubernetes:core/v1:Service", "grafana-service").plain["spec"]


def test_grafana_anonymous_access_is_viewer_only(minikube, aws):
    ini = minikube.one("kubernetes:core/v1:ConfigMap", "grafana-config").plain["data"]["grafana.ini"]
    anonymous = re.search(r"\[auth\.anonymous\]\n((?:[^\[].*\n)*)", ini).group(1)
    assert "org_role = Viewer" in anonymous and "enabled = true" in anonymous
    assert "allow_sign_up = false" in ini
    assert aws.config()["/opt/ray-monitoring/grafana/config/grafana.ini"] == ini
    # Anonymous viewers land in the main organisation, whose datasources are this cluster's Prometheus and, with
    # `logs`, its Loki (Grafana's Viewer role may query any datasource of its organisation: docs/security.md
    # names both).
    assert "org_name = Main Org." in anonymous and "allow_org_create = false" in ini
    for datasources, names in (
            (minikube.one("kubernetes:core/v1:ConfigMap", "grafana-provisioning").plain["data"]["datasources.yaml"],
             ["Prometheus", "Ray logs"]),
            (aws.config()["/opt/ray-monitoring/grafana/provisioning/datasources/datasources.yaml"],
             ["Prometheus", "Ray logs"])):
        provisioned = yaml.safe_load(datasources)["datasources"]
        assert [d["name"] for d in provisioned] == names and all(d.get("orgId", 1) == 1 for d in provisioned)


# --- secrets ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack,carrier", [("minikube", ("kubernetes:core/v1:Secret", "grafana-admin", "stringData")),
                                           ("aws", ("aws:ssm/parameter:Parameter", "grafana-admin-password-parameter",
                                                    "value"))])
def test_password_is_secret_end_to_end(stack, carrier):
    result = run_stack(stack)
    assert result.error is None, result.error
    type_, name, field = carrier
    holder = result.one(type_, name)
    assert is_secret(holder.inputs[field]), f"{name}.{field} is not a Pulumi secret"
    exported = result.outputs["grafanaAdminPassword"]
    assert is_secret(exported)
    password = reveal(exported)
    for resource in result.resources:
        if resource is holder or resource.type.startswith("random:"):
            continue
        assert password not in json.dumps(resource.plain), f"password in plain text in {resource.name}"
    for key, value in result.outputs.items():
        if key != "grafanaAdminPassword":
            assert password not in json.dumps(value), f"password in output {key}"
    assert not any(password in line for line in result.logs), "password in the program's log"
    generator = result.one("random:index/randomPassword:RandomPassword", name.replace("-parameter", "-value")
                           if stack == "aws" else "grafana-admin-password").plain
    assert generator["length"] >= 32


def test_grafana_encrypts_its_database_with_a_generated_secret_key(minikube, aws):
    # Grafana docs, "Configure security" (secret_key): the key signs and encrypts the datasource
    # credentials in its database; the built-in default is the same in every install.
    for ini in (minikube.one("kubernetes:core/v1:ConfigMap", "grafana-config").plain["data"]["grafana.ini"],
                aws.config()["/opt/ray-monitoring/grafana/config/grafana.ini"]):
        assert "secret_key = $__file{/etc/grafana/secrets/secret-key}" in ini
        assert "SW2YcwTIb9zpOOhoPsMm" not in ini, "never Grafana's public default"
    secret = minikube.one("kubernetes:core/v1:Secret", "grafana-admin")
    assert is_secret(secret.inputs["stringData"])
    data = reveal(secret.inputs["stringData"])
    assert len(data["secret-key"]) == 48 and data["secret-key"] != data["admin-password"]
    parameter = aws.one("aws:ssm/parameter:Parameter", "monitoring-grafana-secret-key-parameter")
    assert parameter.plain["type"] == "SecureString" and is_secret(parameter.inputs["value"])
    assert {"parameter": parameter.plain["name"], "version": 1, "path": "/opt/ray-monitoring/secrets/secret-key",
            "mode": "0400", "uid": 472, "reload": "grafana-restart"} in aws.manifest()["secrets"]


def read_as(uid: int, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "cat", str(path)],
                          capture_output=True, text=True, timeout=30)


def test_node_exporter_cannot_read_the_secrets_its_host_mount_shows(aws):
    """node_exporter mounts the head's / read-only; the secrets Prometheus and Alertmanager read are
    theirs alone (0400, uid 65534, the prom images' default user): node_exporter runs as its own uid."""
    from components.constants import NODE_EXPORTER_UID

    owners = {entry["uid"] for entry in aws.manifest()["secrets"]} | {PROMETHEUS_UID}
    for compose_text in (aws.config()["/opt/ray-monitoring/compose.yaml"],
                         written_files(aws.worker_user_data())["/opt/ray-monitoring/compose.yaml"]):
        user = yaml.safe_load(compose_text)["services"]["node-exporter"]["user"]
        assert user == f"{NODE_EXPORTER_UID}:{NODE_EXPORTER_UID}" and NODE_EXPORTER_UID not in owners
    # The door, tried with the kernel's own permission check: a 0400 file of uid 65534.
    directory = Path(tempfile.mkdtemp(prefix="secrets-", dir="/tmp"))
    try:
        directory.chmod(0o755)
        secret = directory / "alertmanager.yml"
        secret.write_text("receivers: [{name: oncall, webhook_configs: [{url: https://hooks.example.com/x}]}]\n")
        os.chown(secret, PROMETHEUS_UID, PROMETHEUS_UID)
        secret.chmod(0o400)
        assert read_as(PROMETHEUS_UID, secret).returncode == 0, "its owner reads it"
        refused = read_as(NODE_EXPORTER_UID, secret)
        assert refused.returncode != 0 and "Permission denied" in refused.stderr
    finally:
        shutil.rmtree(directory)


GIVEN = {"grafanaAdminPassword": "correct-horse-battery-staple", "grafanaSecretKey": "k" * 40,
         "rayAuthToken": "t0ken-" * 8}


@pytest.mark.parametrize("stack", ["minikube", "aws"])
def test_given_secrets_replace_the_generated_ones_and_stay_secret(stack):
    result = run_stack(stack, secrets=GIVEN)
    assert result.error is None, result.error
    # Only what nobody gave is generated (aws: the manifest's signing key).
    generated = {r.name for r in result.of_type("random:index/randomPassword:RandomPassword")}
    assert generated == ({"monitoring-manifest-signing-key-value"} if stack == "aws" else set())
    if stack == "minikube":
        grafana = result.one("kubernetes:core/v1:Secret", "grafana-admin")
        token = result.one("kubernetes:core/v1:Secret", "ray-cluster-auth-token-secret")
        assert is_secret(grafana.inputs["stringData"]) and is_secret(token.inputs["stringData"])
        assert reveal(grafana.inputs["stringData"]) == {"admin-password": GIVEN["grafanaAdminPassword"],
                                                        "secret-key": GIVEN["grafanaSecretKey"]}
        assert reveal(token.inputs["stringData"]) == {"auth_token": GIVEN["rayAuthToken"]}
    else:
        for name, key in (("grafana-admin-password-parameter", "grafanaAdminPassword"),
                          ("monitoring-grafana-secret-key-parameter", "grafanaSecretKey"),
                          ("monitoring-ray-auth-token-parameter", "rayAuthToken")):
            parameter = result.one("aws:ssm/parameter:Parameter", name)
            assert is_secret(parameter.inputs["value"]) and reveal(parameter.inputs["value"]) == GIVEN[key]
    assert is_secret(result.outputs["grafanaAdminPassword"]) and is_secret(result.outputs["rayAuthToken"])
    assert reveal(result.outputs["rayAuthToken"]) == GIVEN["rayAuthToken"]
    for value in GIVEN.values():
        assert not any(value in line for line in result.logs)


def test_grafanas_plugin_preinstaller_and_key_retrieval_are_off(minikube, aws):
    # Grafana 12 (pkg/setting/setting_plugins.go, readPluginSettings): unless [plugins] preinstall_disabled is
    # true, a default list (grafana-lokiexplore-app, grafana-pyroscope-app, ...) is installed from grafana.com by
    # a background service at every start, and auto-updated (preinstall_auto_update defaults to true, and is
    # read only when preinstall is on); public_key_retrieval_disabled keeps the signing key the binary embeds.
    ini = minikube.one("kubernetes:core/v1:ConfigMap", "grafana-config").plain["data"]["grafana.ini"]
    plugins = re.search(r"\[plugins\]\n((?:[^\[].*\n)*)", ini).group(1)
    assert "preinstall_disabled = true" in plugins and "public_key_retrieval_disabled = true" in plugins
    assert aws.config()["/opt/ray-monitoring/grafana/config/grafana.ini"] == ini
