"""The aws stack under mocks: what `pulumi up --stack aws` registers, and each component alone."""

from __future__ import annotations

import json

import conftest
import pytest
import yaml
from conftest import Run, run_stack

from stacks.settings import ConfigError

INSTANCE = "aws:ec2/instance:Instance"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
POLICY = "aws:iam/rolePolicy:RolePolicy"


def user_data(result: Run, node: str) -> dict:
    text = result.one(INSTANCE, f"{node}-instance").plain["userData"]
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)


def written(result: Run, node: str) -> dict[str, str]:
    return result.written(f"{node}-instance")


def test_stack_registers_head_and_workers(aws):
    instances = {r.name: r.plain for r in aws.of_type(INSTANCE)}
    assert sorted(instances) == ["head-instance", "worker-0-instance"]
    assert aws.one("aws:ssm/parameter:Parameter", "grafana-admin-password-parameter").plain["type"] == "SecureString"
    three = run_stack("aws", workerCount="3")
    assert three.error is None, three.error
    assert len(three.of_type(INSTANCE)) == 4
    none = run_stack("aws", workerCount="0")
    assert none.error is None and len(none.of_type(INSTANCE)) == 1


@pytest.mark.parametrize("node", ["head", "worker-0"])
def test_instances_are_hardened(aws, node):
    instance = aws.one(INSTANCE, f"{node}-instance").plain
    assert instance["metadataOptions"]["httpTokens"] == "required"
    assert instance["rootBlockDevice"] == {"volumeSize": 100, "volumeType": "gp3", "encrypted": True}
    assert instance["ami"] == conftest.UBUNTU_AMI["id"]
    assert instance["tags"]["ray-cluster"] == "ray-cluster"
    assert instance["userDataReplaceOnChange"] is True
    assert "keyName" not in instance


def test_ami_lookup_is_canonical_ubuntu_noble(aws):
    (lookup,) = [args for token, args in aws.mocks.invokes if token == "aws:ec2/getAmi:getAmi"]
    assert lookup["owners"] == ["099720109477"]
    names = [f["values"] for f in lookup["filters"] if f["name"] == "name"]
    assert names and "ubuntu-noble-24.04-amd64" in names[0][0]


def test_no_ingress_from_anywhere_by_default(aws):
    rules = aws.of_type(INGRESS)
    assert [r.name for r in rules] == ["security-groups-cluster-members"]
    members = rules[0].plain
    assert members["referencedSecurityGroupId"] == members["securityGroupId"]
    assert "cidrIpv4" not in members and "cidrIpv6" not in members
    assert aws.outputs["grafanaUrl"] == "http://localhost:3000"


def test_access_only_from_listed_cidrs():
    result = run_stack("aws", allowedCidrs=["203.0.113.7/32", "2001:db8::/64"])
    assert result.error is None, result.error
    rules = [r.plain for r in result.of_type(INGRESS) if r.name != "security-groups-cluster-members"]
    assert sorted((r.get("cidrIpv4") or r.get("cidrIpv6"), r["fromPort"]) for r in rules) == sorted(
        (cidr, port) for cidr in ("203.0.113.7/32", "2001:db8::/64") for port in (22, 8265, 3000, 9090))
    assert result.outputs["grafanaUrl"].startswith("http://ec2-203-0-113-10")


def test_world_access_needs_the_opt_in():
    result = run_stack("aws", allowedCidrs=["0.0.0.0/0"], allowWorldAccess="true")
    assert result.error is None, result.error
    assert any(r.plain.get("cidrIpv4") == "0.0.0.0/0" for r in result.of_type(INGRESS))


def policies(result: Run) -> dict[str, list[dict]]:
    return {r.name: json.loads(r.plain["policy"])["Statement"] for r in result.of_type(POLICY)}


def test_iam_names_every_action_and_resource(aws):
    statements = policies(aws)
    for name, items in statements.items():
        for statement in items:
            actions = statement["Action"]
            assert all("*" not in action for action in actions), f"{name}: wildcard action {actions}"
    head = {s["Sid"]: s for s in statements["head-role-policy"]}
    parameter = aws.one("aws:ssm/parameter:Parameter", "grafana-admin-password-parameter").plain["name"]
    assert head["ReadParameters"]["Action"] == ["ssm:GetParameter"]
    assert head["ReadParameters"]["Resource"] == [f"arn:aws:ssm:us-west-2:123456789012:parameter{parameter}"]
    assert head["ReadObjects"]["Action"] == ["s3:GetObject"]
    assert head["ReadObjects"]["Resource"] == ["arn:aws:s3:::dashboards-bucket-bucket/dashboards/*"]
    worker = {s["Sid"] for s in statements["worker-role-policy"]}
    assert worker == {"SessionManager"}, "workers read nothing"


def test_head_runs_the_monitoring_stack_with_compose(aws):
    data = user_data(aws, "head")
    assert {"docker.io", "docker-compose-v2"} <= set(data["packages"])
    files = written(aws, "head")
    compose = yaml.safe_load(files["/opt/ray-monitoring/compose.yaml"])
    services = compose["services"]
    assert set(services) == {"ray-head", "prometheus", "grafana", "node-exporter"}
    assert all(s["restart"] == "unless-stopped" for s in services.values())
    ray = services["ray-head"]
    assert ray["image"] == "rayproject/ray:2.60.0"
    assert "--metrics-export-port=8080" in ray["command"] and "--block" in ray["command"]
    assert ray["environment"] == {
        "RAY_GRAFANA_HOST": "http://127.0.0.1:3000", "RAY_PROMETHEUS_HOST": "http://127.0.0.1:9090",
        "RAY_PROMETHEUS_NAME": "Prometheus", "RAY_GRAFANA_IFRAME_HOST": "${RAY_GRAFANA_IFRAME_HOST}",
    }
    assert "--storage.tsdb.retention.time=15d" in services["prometheus"]["command"]
    node = services["node-exporter"]
    assert node["pid"] == "host" and node["network_mode"] == "host" and node["volumes"] == ["/:/host:ro,rslave"]
    prometheus = yaml.safe_load(files["/opt/ray-monitoring/prometheus/prometheus.yml"])
    ray_job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "ray")
    assert ray_job["file_sd_configs"] == [
        {"files": ["/tmp/ray/prom_metrics_service_discovery.json"], "refresh_interval": "1s"}]
    assert {"target_label": "ray_io_cluster", "replacement": "ray-cluster"} in ray_job["relabel_configs"]
    fetch = json.loads(files["/opt/ray-monitoring/fetch.json"])
    bucket_keys = [r.plain["key"] for r in aws.of_type("aws:s3/bucketObjectv2:BucketObjectv2")]
    assert sorted(fetch["dashboard_keys"]) == sorted(bucket_keys) and len(bucket_keys) >= 8


def test_grafana_files_match_the_minikube_stack(aws, minikube):
    files = written(aws, "head")
    kube = minikube.one("kubernetes:core/v1:ConfigMap", "grafana-config").plain["data"]["grafana.ini"]
    assert files["/opt/ray-monitoring/grafana/grafana.ini"] == kube
    datasource = yaml.safe_load(files["/opt/ray-monitoring/grafana/provisioning/datasources/datasources.yaml"])
    assert datasource["datasources"][0]["name"] == "Prometheus"
    assert datasource["datasources"][0]["url"] == "http://127.0.0.1:9090"


def test_iframe_host_follows_access_mode():
    def start(result: Run) -> str:
        return written(result, "head")["/opt/ray-monitoring/bin/start.sh"]

    tunnel = run_stack("aws")
    assert 'iframe_host="http://localhost:3000"' in start(tunnel)
    public = run_stack("aws", allowedCidrs=["203.0.113.7/32"])
    assert "meta-data/public-hostname" in start(public)
    fixed = run_stack("aws", grafanaIframeHost="https://grafana.example.com")
    assert 'iframe_host="https://grafana.example.com"' in start(fixed)


def test_workers_join_the_head_private_address(aws):
    compose = yaml.safe_load(written(aws, "worker-0")["/opt/ray-monitoring/compose.yaml"])
    assert set(compose["services"]) == {"ray-worker", "node-exporter"}
    command = compose["services"]["ray-worker"]["command"]
    assert "--address=10.0.1.10:6379" in command and "--metrics-export-port=8080" in command
    worker = aws.one(INSTANCE, "worker-0-instance").plain
    assert worker["associatePublicIpAddress"] is False
    assert len(worker["vpcSecurityGroupIds"]) == 1


def test_outputs(aws):
    assert aws.outputs["sshTunnel"].startswith("ssh -L 8265:localhost:8265 -L 3000:localhost:3000")
    assert "AWS-StartPortForwardingSession" in aws.outputs["ssmPortForward"]
    assert aws.outputs["headPublicIp"] == "203.0.113.10"
    assert aws.outputs["rayDashboardUrl"] == "http://localhost:8265"


def test_every_child_is_parented_to_its_component(aws):
    components = {r.urn: r for r in aws.resources if r.type.startswith("ray-monitoring:")}
    for resource in aws.resources:
        if resource.type.startswith("ray-monitoring:"):
            continue
        assert resource.parent in components, f"{resource.type} {resource.name} is not inside a component"
        assert resource.name.startswith(components[resource.parent].name)


def test_root_volume_below_the_ami_is_refused(monkeypatch):
    image = json.loads(json.dumps(conftest.UBUNTU_AMI))
    image["blockDeviceMappings"][0]["ebs"]["volumeSize"] = 30
    monkeypatch.setattr(conftest, "UBUNTU_AMI", image)
    result = run_stack("aws", rootVolumeSize="20")
    assert isinstance(result.error, ConfigError), result.error
    assert "rootVolumeSize = 20" in str(result.error) and "30 GiB" in str(result.error)
    assert result.resources == []


def test_configured_ami_and_subnet_are_looked_up():
    result = run_stack("aws", amiId="ami-0123456789abcdef0", subnetId="subnet-0123456789abcdef0")
    assert result.error is None, result.error
    tokens = dict(result.mocks.invokes)
    assert tokens["aws:ec2/getAmi:getAmi"]["filters"] == [{"name": "image-id", "values": ["ami-0123456789abcdef0"]}]
    assert tokens["aws:ec2/getSubnet:getSubnet"]["id"] == "subnet-0123456789abcdef0"
    assert result.one(INSTANCE, "head-instance").plain["subnetId"] == "subnet-0123456789abcdef0"


def test_default_vpc_first_subnet(aws):
    assert aws.one(INSTANCE, "head-instance").plain["subnetId"] == "subnet-0aaaaaaaaaaaaaaaa"
    group = aws.one("aws:ec2/securityGroup:SecurityGroup", "security-groups-cluster").plain
    assert group["vpcId"] == "vpc-0123456789abcdef0"


def test_subnet_outside_the_vpc_is_refused():
    result = run_stack("aws", vpcId="vpc-0fffffffffffffff0", subnetId="subnet-0123456789abcdef0")
    assert isinstance(result.error, ConfigError) and "subnetId" in str(result.error)
    assert result.resources == []
