"""Alerts that reach someone: with receivers both stacks deploy Alertmanager and point Prometheus at
it; the receivers' credentials stay Pulumi secrets end to end; the configuration passes amtool."""

from __future__ import annotations

import json
import subprocess

import kubernetes_validate
import pytest
import yaml

from stacks.settings import ConfigError
from support.pulumi_internals import is_secret, reveal
from support.stacks import Run, run_stack
from support.tools import tool

SENTINEL = "https://hooks.example.com/services/SENTINEL-CREDENTIAL-8f3a"
PAGERDUTY_KEY = "SENTINEL-ROUTING-KEY-0123456789abcdef"
RECEIVERS = [
    {"name": "team", "type": "webhook", "url": SENTINEL},
    {"name": "oncall", "type": "pagerduty", "routingKey": PAGERDUTY_KEY, "severities": ["critical"]},
]
SECRET = "kubernetes:core/v1:Secret"
PARAMETER = "aws:ssm/parameter:Parameter"


def with_receivers(stack: str, **overrides) -> Run:
    result = run_stack(stack, secrets={"alertReceivers": RECEIVERS}, **overrides)
    assert result.error is None, result.error
    return result


@pytest.fixture(scope="module")
def minikube_alerting() -> Run:
    return with_receivers("minikube")


@pytest.fixture(scope="module")
def aws_alerting() -> Run:
    return with_receivers("aws", allowedCidrs=["203.0.113.7/32"])


def prometheus_yml(result: Run, stack: str) -> dict:
    if stack == "minikube":
        return yaml.safe_load(result.one("kubernetes:core/v1:ConfigMap", "prometheus-config").plain["data"][
            "prometheus.yml"])
    return yaml.safe_load(result.config()["/opt/ray-monitoring/prometheus/prometheus.yml"])


def alertmanager_yml(result: Run, stack: str) -> str:
    if stack == "minikube":
        holder = result.one(SECRET, "alertmanager-config").inputs["stringData"]
        inner = holder if is_secret(holder) else holder["alertmanager.yml"]
        assert is_secret(inner), "the configuration holds credentials: it must be a Pulumi secret"
        return reveal(holder)["alertmanager.yml"]
    holder = result.one(PARAMETER, "alertmanager-config-parameter").inputs["value"]
    assert is_secret(holder), "the configuration holds credentials: it must be a Pulumi secret"
    return reveal(holder)


def test_without_receivers_nothing_changes(minikube, aws):
    for result, stack in ((minikube, "minikube"), (aws, "aws")):
        assert "alerting" not in prometheus_yml(result, stack)
        assert not [r for r in result.resources if "alertmanager" in r.name]
    assert "alertmanager" not in yaml.safe_load(aws.config()["/opt/ray-monitoring/compose.yaml"])["services"]


@pytest.mark.parametrize("stack", ["minikube", "aws"])
def test_prometheus_sends_alerts_to_alertmanager(stack, minikube_alerting, aws_alerting):
    result = minikube_alerting if stack == "minikube" else aws_alerting
    target = "alertmanager.monitoring.svc:9093" if stack == "minikube" else "127.0.0.1:9093"
    assert prometheus_yml(result, stack)["alerting"] == {
        "alertmanagers": [{"scheme": "http", "static_configs": [{"targets": [target]}]}]}


@pytest.mark.parametrize("stack", ["minikube", "aws"])
def test_the_configuration_passes_amtool_and_routes_by_severity(stack, minikube_alerting, aws_alerting, tmp_path):
    text = alertmanager_yml(minikube_alerting if stack == "minikube" else aws_alerting, stack)
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    checked = subprocess.run([tool("amtool"), "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "SUCCESS" in checked.stdout, checked.stdout + checked.stderr
    config = yaml.safe_load(text)
    assert config["route"]["group_by"] == ["alertname", "ray_io_cluster"]
    assert (config["route"]["group_wait"], config["route"]["group_interval"], config["route"]["repeat_interval"]) \
        == ("30s", "5m", "4h")
    routes = {r["receiver"]: r["matchers"] for r in config["route"]["routes"]}
    assert routes == {"team": ['severity=~"critical|warning"'], "oncall": ['severity=~"critical"']}
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["oncall"]["pagerduty_configs"][0]["send_resolved"] is True


def test_amtool_rejects_a_broken_configuration(tmp_path):
    path = tmp_path / "alertmanager.yml"
    path.write_text("route:\n  receiver: nobody\nreceivers: []\n")
    assert subprocess.run([tool("amtool"), "check-config", str(path)], capture_output=True,
                          timeout=60).returncode != 0


@pytest.mark.parametrize("stack", ["minikube", "aws"])
def test_credentials_are_secret_everywhere(stack, minikube_alerting, aws_alerting):
    result = minikube_alerting if stack == "minikube" else aws_alerting
    holder = result.one(SECRET, "alertmanager-config") if stack == "minikube" \
        else result.one(PARAMETER, "alertmanager-config-parameter")
    for resource in result.resources:
        if resource is holder:
            continue
        text = json.dumps(resource.plain)
        assert SENTINEL not in text and PAGERDUTY_KEY not in text, f"a credential in plain text in {resource.name}"
    for key, value in result.outputs.items():
        assert SENTINEL not in json.dumps(reveal(value)), f"a credential in output {key}"
    assert not any(SENTINEL in line or PAGERDUTY_KEY in line for line in result.logs)


def test_kubernetes_alertmanager_is_hardened_and_private(minikube_alerting):
    r = minikube_alerting
    deployment = r.one("kubernetes:apps/v1:Deployment", "alertmanager-deployment").plain
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    assert {"readinessProbe", "livenessProbe", "resources"} <= set(container)
    # The Secret is auto-named (the mocks name it <logical name>-generated): a new one per configuration.
    assert {"name": "config", "secret": {"secretName": "alertmanager-config-generated", "defaultMode": 0o440}} in \
        pod["volumes"]
    secret = r.one(SECRET, "alertmanager-config").plain
    assert "name" not in secret["metadata"], "auto-named"
    assert not deployment["spec"]["template"]["metadata"].get("annotations"), "no digest of the credentials"
    service = r.one("kubernetes:core/v1:Service", "alertmanager-service").plain
    assert service["spec"]["type"] == "ClusterIP"
    policy = r.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "alertmanager-network-policy").plain
    assert policy["spec"]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/instance": "prometheus"}}}]
    for resource in r.resources:
        if resource.type.startswith("kubernetes:") and "alertmanager" in resource.name:
            kubernetes_validate.validate(resource.plain, "1.30.0", strict=True)


def test_ec2_alertmanager_answers_the_heads_prometheus_only(aws_alerting):
    compose = yaml.safe_load(aws_alerting.config()["/opt/ray-monitoring/compose.yaml"])
    service = compose["services"]["alertmanager"]
    assert service["read_only"] is True and service["user"] == "65534:65534"
    assert {"parameter": "/ray-monitoring/aws/ray-cluster/alertmanager/config", "version": 1, "uid": 65534,
            "mode": "0400",
            "path": "/opt/ray-monitoring/alertmanager/alertmanager.yml", "reload": "alertmanager"} in (
        aws_alerting.manifest()["secrets"])
    rules = aws_alerting.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    ports = {(r.plain.get("fromPort"), r.plain.get("cidrIpv4")) for r in rules if r.plain.get("fromPort")}
    # Whoever reaches Alertmanager's API can silence every alert: it listens on the head's loopback
    # (Compose's host network), and no security group rule opens 9093, to allowedCidrs or to workers.
    assert "--web.listen-address=127.0.0.1:9093" in service["command"]
    assert (9090, "203.0.113.7/32") in ports and not any(port == 9093 for port, _ in ports)
    policy = json.loads(aws_alerting.one("aws:iam/rolePolicy:RolePolicy", "head-role-policy").plain["policy"])
    read = next(s for s in policy["Statement"] if s["Sid"] == "ReadParameters")
    assert any(arn.endswith("/ray-monitoring/aws/ray-cluster/alertmanager/config") for arn in read["Resource"])
    closed = with_receivers("aws")
    ports = {r.plain.get("fromPort") for r in closed.of_type(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")}
    assert 9093 not in ports, "no CIDR: nothing reaches it from outside"


def test_external_alertmanager_gets_the_alerts_and_nothing_is_deployed():
    result = run_stack("minikube", externalAlertmanagerUrl="https://am.example.com/alertmanager")
    assert result.error is None, result.error
    assert prometheus_yml(result, "minikube")["alerting"] == {"alertmanagers": [{
        "scheme": "https", "static_configs": [{"targets": ["am.example.com:443"]}], "path_prefix": "/alertmanager"}]}
    assert not [r for r in result.resources if "alertmanager" in r.name]


def test_receivers_not_given_as_secrets_are_refused_without_repeating_them():
    result = run_stack("minikube", alertReceivers=RECEIVERS)
    assert isinstance(result.error, ConfigError) and result.resources == []
    assert "not a Pulumi secret" in str(result.error) and "--secret" in str(result.error)
    assert SENTINEL not in str(result.error) and PAGERDUTY_KEY not in str(result.error)


@pytest.mark.parametrize("receiver,why", [
    ({"name": "x", "type": "sms", "url": SENTINEL}, "must be one of"),
    ({"name": "x", "type": "slack"}, "missing fields ['url']"),
    ({"name": "x", "type": "webhook", "url": "not a url SENTINEL"}, "must be an http(s) URL"),
    ({"name": "x", "type": "email", "to": "ops", "from": "ray@example.com", "smarthost": "smtp:587"},
     "email addresses"),
    ({"name": "x", "type": "webhook", "url": SENTINEL, "severities": ["page"]}, "severities"),
    ({"name": "x", "type": "webhook", "url": SENTINEL, "token": "t"}, "unknown fields ['token']"),
])
def test_bad_receivers_are_refused_clearly(receiver, why):
    result = run_stack("aws", secrets={"alertReceivers": [receiver]})
    assert isinstance(result.error, ConfigError) and result.resources == []
    message = str(result.error)
    assert why in message and "ray-monitoring:alertReceivers" in message and "SENTINEL" not in message


def test_severity_overrides_reach_the_rules(minikube):
    from components.builders.alert_rules import FILE_NAME

    result = run_stack("minikube", alertSeverity={"RayObjectStoreFull": "critical"})
    assert result.error is None, result.error
    rules = yaml.safe_load(result.one("kubernetes:core/v1:ConfigMap", "prometheus-config").plain["data"][FILE_NAME])
    severity = {r["alert"]: r["labels"]["severity"] for r in rules["groups"][0]["rules"]}
    assert severity["RayObjectStoreFull"] == "critical" and severity["RayNodeMemoryHigh"] == "warning"
