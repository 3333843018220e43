"""The aws stack under mocks: what `pulumi up --stack aws` registers, and each component alone."""

from __future__ import annotations

import json

import pytest
import yaml

from stacks.settings import ConfigError
from support import cloud_mocks
from support.stacks import Run, project_values, run, run_stack, written_files

INSTANCE = "aws:ec2/instance:Instance"
GROUP = "aws:autoscaling/group:Group"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
POLICY = "aws:iam/rolePolicy:RolePolicy"


def user_data(result: Run, node: str) -> dict:
    text = result.one(INSTANCE, f"{node}-instance").plain["userData"]
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)


def written(result: Run, node: str) -> dict[str, str]:
    return result.written(f"{node}-instance")


def test_stack_registers_the_head_and_a_worker_group(aws):
    assert [r.name for r in aws.of_type(INSTANCE)] == ["head-instance"]
    assert aws.one("aws:ssm/parameter:Parameter", "grafana-admin-password-parameter").plain["type"] == "SecureString"
    group = aws.one(GROUP, "workers-group").plain
    assert (group["desiredCapacity"], group["minSize"], group["maxSize"]) == (1, 1, 1)
    scaled = run_stack("aws", workerCount="3", workerMinCount="2", workerMaxCount="10")
    assert scaled.error is None, scaled.error
    group = scaled.one(GROUP, "workers-group").plain
    assert (group["desiredCapacity"], group["minSize"], group["maxSize"]) == (3, 2, 10)
    none = run_stack("aws", workerCount="0")
    assert none.error is None and none.of_type(GROUP) == [] and len(none.of_type(INSTANCE)) == 1


def test_worker_count_outside_its_bounds_is_refused():
    result = run_stack("aws", workerCount="5", workerMaxCount="3")
    assert isinstance(result.error, ConfigError), result.error
    assert "workerCount = 5" in str(result.error) and "workerMaxCount (3)" in str(result.error)
    assert result.resources == []


def test_head_is_hardened(aws):
    instance = aws.one(INSTANCE, "head-instance").plain
    assert instance["metadataOptions"]["httpTokens"] == "required"
    assert instance["rootBlockDevice"] == {"volumeSize": 100, "volumeType": "gp3", "encrypted": True}
    assert instance["ami"] == cloud_mocks.UBUNTU_AMI["id"]
    assert instance["tags"]["ray-cluster"] == "ray-cluster"
    assert instance["userDataReplaceOnChange"] is True
    assert "keyName" not in instance


def test_workers_launch_hardened(aws):
    template = aws.one(TEMPLATE, "workers-launch-template").plain
    assert template["metadataOptions"]["httpTokens"] == "required"
    assert template["imageId"] == cloud_mocks.UBUNTU_AMI["id"]
    (interface,) = template["networkInterfaces"]
    assert len(interface["securityGroups"]) == 1, "workers are only in the cluster's own group"
    (root,) = template["blockDeviceMappings"]
    assert root["deviceName"] == cloud_mocks.UBUNTU_AMI["rootDeviceName"]
    assert root["ebs"]["encrypted"] == "true" and root["ebs"]["volumeType"] == "gp3"
    assert template["iamInstanceProfile"]["name"] == "worker-role-profile-name"
    group = aws.one(GROUP, "workers-group").plain
    assert group["launchTemplate"]["version"] == "1", "the group launches the template's newest version"
    assert group["instanceRefresh"]["strategy"] == "Rolling"
    assert group["vpcZoneIdentifiers"] == ["subnet-0aaaaaaaaaaaaaaaa"]


def test_workers_in_the_default_vpc_get_a_public_address_to_reach_the_registry(aws):
    # AWS VPC user guide, "Default VPCs": default subnets route 0.0.0.0/0 to an internet gateway and
    # have no NAT gateway; an instance without a public IPv4 there reaches no package mirror or registry.
    (interface,) = aws.one(TEMPLATE, "workers-launch-template").plain["networkInterfaces"]
    assert interface["associatePublicIpAddress"] == "true"
    members_only = [r.plain for r in aws.of_type(INGRESS) if r.plain.get("securityGroupId") ==
                    "security-groups-cluster-id"]
    assert all("cidrIpv4" not in r and "cidrIpv6" not in r for r in members_only), "reachable by members only"


def test_worker_subnets_with_nat_keep_the_workers_private():
    result = run_stack("aws", workerSubnetIds=["subnet-0cccccccccccccccc", "subnet-0dddddddddddddddd"])
    assert result.error is None, result.error
    (interface,) = result.one(TEMPLATE, "workers-launch-template").plain["networkInterfaces"]
    assert interface["associatePublicIpAddress"] == "false"
    assert result.one(GROUP, "workers-group").plain["vpcZoneIdentifiers"] == [
        "subnet-0cccccccccccccccc", "subnet-0dddddddddddddddd"]
    assert result.one(INSTANCE, "head-instance").plain["subnetId"] == "subnet-0aaaaaaaaaaaaaaaa"


def test_worker_subnets_outside_the_heads_vpc_are_refused():
    result = run_stack("aws", workerSubnetIds=["subnet-0ffffffffffffffff"])
    assert isinstance(result.error, ConfigError)
    assert "workerSubnetIds" in str(result.error) and "vpc-0fffffffffffffff0" in str(result.error)
    assert result.resources == [], "nothing is created"


def test_a_worker_that_cannot_join_terminates_and_the_group_replaces_it(aws):
    # EC2 user guide, "Change the instance initiated shutdown behavior": `terminate` makes a shutdown
    # from inside the instance a termination. EC2 Auto Scaling user guide, "Health checks for instances":
    # with EC2 health checks an instance in any state but running is unhealthy and is replaced.
    template = aws.one(TEMPLATE, "workers-launch-template").plain
    assert template["instanceInitiatedShutdownBehavior"] == "terminate"
    assert aws.one(GROUP, "workers-group").plain["healthCheckType"] == "EC2"
    start = written_files(aws.worker_user_data())["/opt/ray-monitoring/bin/start.sh"]
    assert "shutdown -h" in start and "http://127.0.0.1:8080/metrics" in start


def test_ami_lookup_is_canonical_ubuntu_noble(aws):
    lookups = {json.dumps(args, sort_keys=True) for token, args in aws.mocks.invokes
               if token == "aws:ec2/getAmi:getAmi"}
    (lookup,) = [json.loads(text) for text in lookups]  # head and workers: the same CPU AMI
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
        (cidr, port) for cidr in ("203.0.113.7/32", "2001:db8::/64") for port in (3000, 9090))
    assert result.outputs["grafanaUrl"] == "http://ec2-198-51-100-7.us-west-2.compute.amazonaws.com:3000"
    assert result.outputs["rayDashboardUrl"] == "http://localhost:8265", "the tunnel's"


def test_the_ray_jobs_api_port_opens_only_when_asked_and_warns():
    # Ray docs, "Ray Jobs API": jobs are submitted to the dashboard's port (8265) and run any code.
    result = run_stack("aws", allowedCidrs=["203.0.113.7/32"], openRayDashboard="true")
    assert result.error is None, result.error
    ports = {r.plain["fromPort"] for r in result.of_type(INGRESS) if r.plain.get("cidrIpv4") == "203.0.113.7/32"}
    assert ports == {3000, 8265, 9090}
    assert any("openRayDashboard" in line and "run code" in line and "token crosses" in line for line in result.logs), \
        result.logs
    assert result.outputs["rayDashboardUrl"].endswith(":8265") and "localhost" not in result.outputs["rayDashboardUrl"]


def test_ssh_opens_only_with_a_key_pair():
    # EC2 user guide, "Connect using SSH": without a key pair the instance has no key to log in with; the
    # SSM tunnel needs no inbound rule. Port 22 opens to allowedCidrs only with keyName.
    def ports(result: Run) -> set[int]:
        assert result.error is None, result.error
        return {r.plain["fromPort"] for r in result.of_type(INGRESS) if r.plain.get("cidrIpv4") == "203.0.113.7/32"}
    assert 22 not in ports(run_stack("aws", allowedCidrs=["203.0.113.7/32"]))
    assert 22 in ports(run_stack("aws", allowedCidrs=["203.0.113.7/32"], keyName="my-key"))


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
    others = [aws.one("aws:ssm/parameter:Parameter", f"monitoring-{name}-parameter").plain["name"]
              for name in ("grafana-secret-key", "ray-auth-token", "manifest-signing-key")]
    assert head["ReadParameters"]["Resource"] == [f"arn:aws:ssm:us-west-2:123456789012:parameter{name}"
                                                  for name in (parameter, *others)]
    assert head["ReadObjects"]["Action"] == ["s3:GetObject"]
    assert head["ReadObjects"]["Resource"] == ["arn:aws:s3:::config-bucket-bucket/config/*"]
    worker = {s["Sid"]: s for s in statements["worker-role-policy"]}
    token = aws.one("aws:ssm/parameter:Parameter", "monitoring-ray-auth-token-parameter").plain["name"]
    assert set(worker) == {"SessionManager", "ReadParameters", "DecryptParameters"}, \
        "workers read Ray's token, and nothing else"
    assert worker["ReadParameters"]["Resource"] == [f"arn:aws:ssm:us-west-2:123456789012:parameter{token}"]


def test_the_stacks_secure_strings_are_decrypted_only_by_its_own_roles(aws):
    # KMS developer guide, "Default key policy": a key made without a policy lets the account's root
    # administer it, so only principals whose IAM policies name the key may use it; the AWS managed
    # aws/ssm key lets every principal of the account that may read the parameter through SSM decrypt it.
    # Terraform AWS provider, ssm/parameter.go: key_id is not ForceNew: a running stack's parameters move to
    # the key in place (PutParameter with KeyId, a new version, which the next manifest names).
    (key,) = aws.of_type("aws:kms/key:Key")
    assert "policy" not in key.plain and key.plain["enableKeyRotation"] is True
    key_arn = "arn:aws:kms:us-west-2:123456789012:key/monitoring-secrets-key"
    parameters = [p for p in aws.of_type("aws:ssm/parameter:Parameter") if p.plain["type"] == "SecureString"]
    assert len(parameters) == 4 and all(p.plain["keyId"] == key_arn for p in parameters), [p.name for p in parameters]
    for role in ("head-role-policy", "worker-role-policy"):
        (decrypt,) = [s for s in policies(aws)[role] if s["Sid"] == "DecryptParameters"]
        assert decrypt["Action"] == ["kms:Decrypt"] and decrypt["Resource"] == [key_arn]
        assert decrypt["Condition"] == {"StringLike": {"kms:ViaService": "ssm.*.amazonaws.com"}}, "through SSM only"


def test_head_runs_the_monitoring_stack_with_compose(aws):
    files = aws.config()
    compose = yaml.safe_load(files["/opt/ray-monitoring/compose.yaml"])
    services = compose["services"]
    assert set(services) == {"ray-head", "prometheus", "grafana", "node-exporter", "loki", "log-collector"}
    assert all(s["restart"] == "unless-stopped" for s in services.values())
    ray = services["ray-head"]
    assert ray["image"] == "rayproject/ray:2.60.0" and "deploy" not in ray, "no GPU on m5.xlarge"
    assert "--metrics-export-port=8080" in ray["command"] and "--block" in ray["command"]
    assert ray["environment"] == {
        "RAY_GRAFANA_HOST": "http://127.0.0.1:3000", "RAY_PROMETHEUS_HOST": "http://127.0.0.1:9090",
        "RAY_PROMETHEUS_NAME": "Prometheus", "RAY_GRAFANA_IFRAME_HOST": "${RAY_GRAFANA_IFRAME_HOST}",
        # Ray's token authentication: the token from a file only Ray's user reads (a Compose secret).
        "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": "/run/secrets/ray-auth-token",
    }
    assert "--storage.tsdb.retention.time=15d" in services["prometheus"]["command"]
    # History and Grafana's database live on the data volume, never in a Docker volume on the root disk.
    assert "/var/lib/ray-monitoring/data/prometheus:/prometheus" in services["prometheus"]["volumes"]
    assert "/var/lib/ray-monitoring/data/grafana:/var/lib/grafana" in services["grafana"]["volumes"]
    assert "volumes" not in compose
    node = services["node-exporter"]
    assert node["pid"] == "host" and node["network_mode"] == "host" and node["volumes"] == ["/:/host:ro,rslave"]
    prometheus = yaml.safe_load(files["/opt/ray-monitoring/prometheus/prometheus.yml"])
    ray_job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "ray")
    assert ray_job["file_sd_configs"] == [
        {"files": ["/tmp/ray/prom_metrics_service_discovery.json"], "refresh_interval": "1s"}]
    assert {"target_label": "ray_io_cluster", "replacement": "ray-cluster"} in ray_job["relabel_configs"]
    dashboards = [path for path in files if path.startswith("/opt/ray-monitoring/dashboards/")]
    assert len(dashboards) >= 8


def test_head_user_data_only_bootstraps(aws):
    files = written(aws, "head")
    assert sorted(files) == ["/etc/systemd/system/docker.service.d/ray-monitoring-data.conf",
                             "/etc/systemd/system/docker.service.d/ray-monitoring-imds-guard.conf",
                             "/etc/systemd/system/ray-monitoring-apply.service",
                             "/etc/systemd/system/ray-monitoring-apply.timer",
                             "/etc/systemd/system/ray-monitoring-imds-guard.service",
                             "/etc/systemd/system/ray-monitoring-ray.slice",
                             "/opt/ray-monitoring/bin/apply_config.py", "/opt/ray-monitoring/bin/mount-data.sh",
                             "/opt/ray-monitoring/bin/start.sh", "/opt/ray-monitoring/boot.json"]
    assert json.loads(files["/opt/ray-monitoring/boot.json"]) == {
        "region": "us-west-2", "bucket": "config-bucket-bucket", "manifest_key": "config/manifest.json",
        "base": "/opt/ray-monitoring", "state": "/var/lib/ray-monitoring/applied.json",
        "grafana_url": "http://127.0.0.1:3000", "grafana_password_file": "/opt/ray-monitoring/secrets/admin-password",
        "data_device_file": "/opt/ray-monitoring/data-device",
        "mount_data": ["bash", "/opt/ray-monitoring/bin/mount-data.sh"],
        "serial_file": "/var/lib/ray-monitoring/data/.manifest-serial",
        "signing_key_parameter": "/ray-monitoring/aws/ray-cluster/manifest-signing-key",
        "allowed_roots": ["/opt/ray-monitoring", "/var/lib/ray-monitoring"], "allowed_uids": [0, 472, 65534, 1000]}
    start = files["/opt/ray-monitoring/bin/start.sh"]
    assert "volume=monitoring-data-volume-id" in files["/opt/ray-monitoring/bin/mount-data.sh"]
    assert "bash /opt/ray-monitoring/bin/mount-data.sh" in start
    assert "systemctl enable --now ray-monitoring-apply.timer" in start


def test_grafana_files_match_the_minikube_stack(aws, minikube):
    files = aws.config()
    kube = minikube.one("kubernetes:core/v1:ConfigMap", "grafana-config").plain["data"]["grafana.ini"]
    assert files["/opt/ray-monitoring/grafana/config/grafana.ini"] == kube
    datasource = yaml.safe_load(files["/opt/ray-monitoring/grafana/provisioning/datasources/datasources.yaml"])
    assert datasource["datasources"][0]["name"] == "Prometheus"
    assert datasource["datasources"][0]["url"] == "http://127.0.0.1:9090"


def test_iframe_host_follows_access_mode():
    assert run_stack("aws").manifest()["iframe"] == {"host": None, "public": False, "port": 3000}
    public = run_stack("aws", allowedCidrs=["203.0.113.7/32"])
    assert public.manifest()["iframe"] == {"host": None, "public": True, "port": 3000}
    fixed = run_stack("aws", grafanaIframeHost="https://grafana.example.com")
    assert fixed.manifest()["iframe"]["host"] == "https://grafana.example.com"


def test_workers_join_the_head_private_address(aws):
    compose = yaml.safe_load(written_files(aws.worker_user_data())["/opt/ray-monitoring/compose.yaml"])
    assert set(compose["services"]) == {"ray-worker", "node-exporter", "log-collector"}
    command = compose["services"]["ray-worker"]["command"]
    assert "--address=10.0.1.10:6379" in command and "--metrics-export-port=8080" in command


def test_every_node_ships_its_logs_to_loki_on_the_head(aws):
    """The head's collector sends to Loki on its own loopback, a worker's to the head's private address; both
    read Ray's files read-only as the monitoring services' uid, and Grafana gets Loki as a datasource."""
    worker_files = written_files(aws.worker_user_data())
    worker = yaml.safe_load(worker_files["/opt/ray-monitoring/otelcol/collector.yaml"])
    head = yaml.safe_load(aws.config()["/opt/ray-monitoring/otelcol/collector.yaml"])
    assert worker["exporters"]["otlp_http"]["endpoint"] == "http://10.0.1.10:3100/otlp"
    assert head["exporters"]["otlp_http"]["endpoint"] == "http://127.0.0.1:3100/otlp"
    assert head["receivers"]["file_log"]["resource"]["ray_node"] == "${env:HOSTNAME}"  # the instance's name
    for compose, role in ((yaml.safe_load(worker_files["/opt/ray-monitoring/compose.yaml"]), "worker"),
                          (yaml.safe_load(aws.config()["/opt/ray-monitoring/compose.yaml"]), "head")):
        collector = compose["services"]["log-collector"]
        assert collector["environment"] == {"RAY_MONITORING_NODE_TYPE": role}
        assert "/var/lib/ray-monitoring/ray:/tmp/ray:ro" in collector["volumes"]
        assert collector["user"] == "65534:65534" and collector["read_only"] and collector["cap_drop"] == ["ALL"]
    loki = yaml.safe_load(aws.config()["/opt/ray-monitoring/compose.yaml"])["services"]["loki"]
    assert "/var/lib/ray-monitoring/data/loki:/loki" in loki["volumes"]  # the data volume
    assert yaml.safe_load(aws.config()["/opt/ray-monitoring/loki/loki.yaml"])["limits_config"][
        "retention_period"] == "7d"
    datasources = yaml.safe_load(aws.config()[
        "/opt/ray-monitoring/grafana/provisioning/datasources/datasources.yaml"])["datasources"]
    assert {d["uid"]: (d["type"], d["url"]) for d in datasources}["ray-logs"] == ("loki", "http://127.0.0.1:3100")


def test_without_logs_no_node_runs_a_collector_and_grafana_has_no_loki():
    off = run_stack("aws", logs="false")
    assert off.error is None, off.error
    assert not {"loki", "log-collector"} & set(yaml.safe_load(off.config()["/opt/ray-monitoring/compose.yaml"])[
        "services"])
    worker_files = written_files(off.worker_user_data())
    assert "/opt/ray-monitoring/otelcol/collector.yaml" not in worker_files
    assert "log-collector" not in yaml.safe_load(worker_files["/opt/ray-monitoring/compose.yaml"])["services"]
    assert "/opt/ray-monitoring/otelcol/collector.yaml" not in off.config()


def test_a_changed_log_store_configuration_recreates_only_loki():
    # Compose recreates a service whose spec changed: the label carries the file's digest.
    week, fortnight = (yaml.safe_load(run_stack("aws", logsRetention=days).config()[
        "/opt/ray-monitoring/compose.yaml"])["services"] for days in ("7d", "14d"))
    assert week["loki"]["labels"] != fortnight["loki"]["labels"]
    assert {name for name in week if week[name] != fortnight[name]} == {"loki"}


def test_outputs(aws):
    assert aws.outputs["sshTunnel"].startswith("ssh -L 8265:localhost:8265 -L 3000:localhost:3000")
    assert "AWS-StartPortForwardingSession" in aws.outputs["ssmPortForward"]
    assert aws.outputs["headPublicIp"] == "198.51.100.7", "the Elastic IP's"
    assert aws.outputs["rayDashboardUrl"] == "http://localhost:8265"


def test_every_child_is_parented_to_its_component(aws):
    components = {r.urn: r for r in aws.resources if r.type.startswith("ray-monitoring:")}
    for resource in aws.resources:
        if resource.type.startswith("ray-monitoring:"):
            continue
        assert resource.parent in components, f"{resource.type} {resource.name} is not inside a component"
        assert resource.name.startswith(components[resource.parent].name)


def test_root_volume_below_the_ami_is_refused(monkeypatch):
    image = json.loads(json.dumps(cloud_mocks.UBUNTU_AMI))
    image["blockDeviceMappings"][0]["ebs"]["volumeSize"] = 30
    monkeypatch.setattr(cloud_mocks, "UBUNTU_AMI", image)
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


# Settings the head applies in place: each changes the bucket's objects, never the head instance.
IN_PLACE = {
    "scrapeInterval": "15s",
    "retentionTime": "30d",
    "alertFor": "10m",
    "alertObjectStorePercent": "80",
    "alertSeverity": json.dumps({"RayScrapeTargetDown": "critical"}),
    "rayVersion": "2.58.1",  # another Ray release's dashboards
    "grafanaIframeHost": "https://grafana.example.com",
    "datasourceName": "Ray Prometheus",
}


@pytest.mark.parametrize("key", sorted(IN_PLACE))
def test_in_place_settings_leave_the_head_instance_alone(aws, key):
    changed = run_stack("aws", **{key: IN_PLACE[key]})
    assert changed.error is None, changed.error
    assert changed.one(INSTANCE, "head-instance").inputs == aws.one(INSTANCE, "head-instance").inputs
    assert changed.manifest() != aws.manifest(), f"{key} must reach the head through the manifest"


def test_alert_receivers_reach_the_head_in_place(aws):
    changed = run_stack("aws", secrets={"alertReceivers": [
        {"name": "hook", "type": "webhook", "url": "https://hooks.example.com/x"}]})
    assert changed.error is None, changed.error
    assert changed.one(INSTANCE, "head-instance").inputs == aws.one(INSTANCE, "head-instance").inputs
    (secret,) = [s for s in changed.manifest()["secrets"] if s["reload"] == "alertmanager"]
    assert secret["path"] == "/opt/ray-monitoring/alertmanager/alertmanager.yml" and secret["mode"] == "0400"
    assert "hooks.example.com" not in json.dumps([r.plain for r in changed.of_type(
        "aws:s3/bucketObjectv2:BucketObjectv2")]), "receivers' credentials stay in SSM"


def test_data_volume_outlives_the_head(aws):
    volume = aws.one("aws:ebs/volume:Volume", "monitoring-data-volume")
    assert volume.plain["type"] == "gp3" and volume.plain["encrypted"] is True
    assert volume.plain["availabilityZone"] == "us-west-2a", "the head's subnet's zone"
    retention = aws.config()["/opt/ray-monitoring/compose.yaml"].split("--storage.tsdb.retention.size=")[1].split()[0]
    assert volume.plain["size"] >= int(retention.removesuffix("GB")) / 0.8 / 1.074 + 2
    assert volume.options["retainOnDelete"] is False, "pulumi destroy deletes it unless retainData"
    attachment = aws.one("aws:ec2/volumeAttachment:VolumeAttachment", "monitoring-data-attachment")
    assert attachment.plain["deviceName"] == "/dev/sdf" and attachment.plain["stopInstanceBeforeDetaching"] is True
    assert attachment.options["deleteBeforeReplace"] is True, "a new head takes the volume over"
    kept = run_stack("aws", retainData="true", dataVolumeSize="500")
    assert kept.error is None, kept.error
    volume = kept.one("aws:ebs/volume:Volume", "monitoring-data-volume")
    assert volume.options["retainOnDelete"] is True and volume.plain["size"] == 500


def test_data_volume_below_the_retention_cap_is_refused():
    result = run_stack("aws", retentionSize="100GB", dataVolumeSize="50")
    assert isinstance(result.error, ConfigError), result.error
    assert "dataVolumeSize = 50" in str(result.error) and "retentionSize" in str(result.error)
    assert result.resources == []


def cloud_with_data_volume(size_gib: int) -> cloud_mocks.CloudMocks:
    """An account where this stack's data volume already exists at `size_gib`."""
    cloud = cloud_mocks.CloudMocks()
    cloud.volumes = [{"id": "vol-0123456789abcdef0", "size": size_gib, "availabilityZone": "us-west-2a"}]
    return cloud


def test_a_smaller_sizing_keeps_the_volume_because_ebs_cannot_shrink(aws):
    # EBS user guide, "Modify a volume": the new size must be at least the current size (no shrinking).
    sized = aws.one("aws:ebs/volume:Volume", "monitoring-data-volume").plain["size"]
    bigger = sized + 40
    result = run_stack("aws", mocks=cloud_with_data_volume(bigger))
    assert result.error is None, result.error
    assert result.one("aws:ebs/volume:Volume", "monitoring-data-volume").plain["size"] == bigger
    assert any(f"keeps its {bigger} GiB" in line for line in result.logs), result.logs
    (lookup,) = [args for token, args in result.mocks.invokes if token == "aws:ebs/getEbsVolumes:getEbsVolumes"]
    assert lookup["filters"] == [{"name": "tag:ray-monitoring-stack", "values": ["ray-monitoring/aws"]}]
    volume = result.one("aws:ebs/volume:Volume", "monitoring-data-volume").plain
    assert volume["tags"]["ray-monitoring-stack"] == "ray-monitoring/aws", "what the look-up finds"
    grown = run_stack("aws", mocks=cloud_with_data_volume(sized - 5))
    assert grown.one("aws:ebs/volume:Volume", "monitoring-data-volume").plain["size"] == sized, "growth applies"


def test_a_configured_size_below_the_volume_is_refused_with_nothing_created():
    result = run_stack("aws", dataVolumeSize="60", mocks=cloud_with_data_volume(80))
    assert isinstance(result.error, ConfigError), result.error
    assert "dataVolumeSize = 60" in str(result.error) and "current 80 GiB" in str(result.error)
    assert "pulumi config set dataVolumeSize 80" in str(result.error)
    assert result.resources == []


def test_a_new_ami_release_replaces_neither_head_nor_workers(aws):
    # Terraform AWS provider, aws_instance: changing `ami` forces a new resource; a most_recent
    # look-up changes whenever the publisher releases an image. The looked-up AMI is kept.
    assert aws.one(INSTANCE, "head-instance").options["ignoreChanges"] == ["ami"]
    assert aws.one(TEMPLATE, "workers-launch-template").options["ignoreChanges"] == ["imageId"]
    chosen = run_stack("aws", amiId=cloud_mocks.UBUNTU_AMI["id"])
    assert chosen.error is None, chosen.error
    assert chosen.one(INSTANCE, "head-instance").options["ignoreChanges"] == [], "amiId rolls the AMI on purpose"
    assert chosen.one(TEMPLATE, "workers-launch-template").options["ignoreChanges"] == []


def test_the_head_keeps_its_address_across_a_stop_start(aws):
    # EC2 user guide, "Elastic IP addresses": an Elastic IP stays associated through a stop/start;
    # an auto-assigned public IPv4 does not.
    (address,) = aws.of_type("aws:ec2/eip:Eip")
    assert address.plain["instance"] == "head-instance-id" and address.plain["domain"] == "vpc"
    assert aws.outputs["headPublicDns"] == "ec2-198-51-100-7.us-west-2.compute.amazonaws.com"
    without = run_stack("aws", headElasticIp="false")
    assert without.of_type("aws:ec2/eip:Eip") == []
    assert without.outputs["headPublicIp"] == "203.0.113.10"


def test_two_stacks_in_one_account_name_their_parameters_apart(aws):
    # SSM parameter names are unique per account and region: same clusterName, other stack.
    staging = run("aws-staging", {**project_values(), "ray-monitoring:preset": "aws"})
    assert staging.error is None, staging.error
    for result, stack in ((aws, "aws"), (staging, "aws-staging")):
        assert {r.plain["name"] for r in result.of_type("aws:ssm/parameter:Parameter")} == {
            f"/ray-monitoring/{stack}/ray-cluster/{name}"
            for name in ("grafana/admin-password", "grafana/secret-key", "ray/auth-token", "manifest-signing-key",
                         "manifest-serial")}


def test_gpu_workers_get_the_gpu_ami_image_and_devices():
    result = run_stack("aws", workerInstanceType="g5.xlarge")
    assert result.error is None, result.error
    assert result.one(TEMPLATE, "workers-gpu-launch-template").plain["imageId"] == cloud_mocks.GPU_AMI["id"]
    assert result.one(INSTANCE, "head-instance").plain["ami"] == cloud_mocks.UBUNTU_AMI["id"]
    worker = yaml.safe_load(written_files(result.worker_user_data())["/opt/ray-monitoring/compose.yaml"])
    ray = worker["services"]["ray-worker"]
    assert ray["image"] == "rayproject/ray:2.60.0-gpu"
    assert ray["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    lookups = [args for token, args in result.mocks.invokes if token == "aws:ec2/getAmi:getAmi"]
    assert any(args["owners"] == ["amazon"] and "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) *"
               in args["filters"][0]["values"] for args in lookups)


def test_ray_image_runs_on_head_and_workers():
    image = "registry.example.com/team/ray:2.58.1-py311-gpu"
    result = run_stack("aws", rayImage=image, workerInstanceType="g5.xlarge")
    assert result.error is None, result.error
    assert yaml.safe_load(result.config()["/opt/ray-monitoring/compose.yaml"])["services"]["ray-head"]["image"] == image
    worker = yaml.safe_load(written_files(result.worker_user_data())["/opt/ray-monitoring/compose.yaml"])
    assert worker["services"]["ray-worker"]["image"] == image
    assert result.outputs["rayDashboardsVersion"] == "2.58.1", "Grafana serves the image's Ray dashboards"
    bad = run_stack("aws", rayImage="not an image")
    assert isinstance(bad.error, ConfigError) and "rayImage" in str(bad.error)


def test_gpu_type_with_a_plain_ami_is_refused():
    result = run_stack("aws", workerInstanceType="g5.xlarge", amiId=cloud_mocks.UBUNTU_AMI["id"])
    assert isinstance(result.error, ConfigError), result.error
    message = str(result.error)
    assert "workerInstanceType = 'g5.xlarge'" in message and cloud_mocks.UBUNTU_AMI["name"] in message
    assert "amiHasNvidiaDriver" in message and result.resources == []
    vouched = run_stack("aws", workerInstanceType="g5.xlarge", amiId=cloud_mocks.UBUNTU_AMI["id"],
                        amiHasNvidiaDriver="true")
    assert vouched.error is None, vouched.error
    gpu_ami = run_stack("aws", headInstanceType="g5.xlarge", amiId=cloud_mocks.GPU_AMI["id"])
    assert gpu_ami.error is None, gpu_ami.error


def test_non_nvidia_gpus_are_refused():
    result = run_stack("aws", workerInstanceType="g4ad.xlarge")
    assert isinstance(result.error, ConfigError), result.error
    assert "workerInstanceType = 'g4ad.xlarge'" in str(result.error) and "AMD" in str(result.error)
    assert result.resources == []


def test_the_monitoring_head_keeps_the_urns_its_children_had_at_the_root():
    """The Grafana password, the SecureStrings and the config bucket were children of the stack itself
    before MonitoringHead held them. A URN includes the parent's type, so without an alias to the root
    the next `pulumi up` would delete and recreate each (a new admin password, a new bucket). Pulumi
    resolves `Alias(parent=ROOT_STACK_RESOURCE)` to the old URN (same name and type, no parent), and the
    aliases of a component apply to its children by inheritance (Pulumi docs, "aliases")."""
    result = run_stack("aws", secrets={"alertReceivers": [{"name": "hook", "type": "webhook",
                                                           "url": "http://hook.example/credential"}]})
    assert result.error is None, result.error
    monitoring = result.one("ray-monitoring:aws:MonitoringHead", "monitoring")
    for type_, name in (("ray-monitoring:aws:GrafanaPassword", "grafana-admin-password"),
                        ("ray-monitoring:aws:SecretParameter", "alertmanager-config"),
                        ("ray-monitoring:aws:ConfigBucket", "config")):
        moved = result.one(type_, name)
        assert moved.parent == monitoring.urn, name
        assert {"spec": {"noParent": True}} in moved.options["aliases"], name


def test_the_config_bucket_takes_writes_only_from_the_deployers_over_tls(aws):
    # S3 user guide, "Bucket policy examples": aws:SecureTransport false denies plain HTTP; IAM
    # "Global condition context keys": aws:PrincipalArn is the role's ARN for an assumed-role session.
    policy = json.loads(aws.one("aws:s3/bucketPolicy:BucketPolicy", "config-policy").plain["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["TlsOnly"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    writes = statements["WritesOnlyByTheDeployers"]
    assert writes["Effect"] == "Deny" and "s3:PutObject" in writes["Action"]
    assert writes["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": ["arn:aws:iam::123456789012:user/ci"]}}
    versioning = aws.one("aws:s3/bucketVersioning:BucketVersioning", "config-versioning").plain
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    manifest = aws.one("aws:s3/bucketObjectv2:BucketObjectv2", "config-manifest").plain
    assert len(manifest["metadata"]["signature"]) == 64, "signed: the head applies only what verifies"
    listed = run_stack("aws", configWriterArns=["arn:aws:iam::123456789012:role/github-deployer"])
    policy = json.loads(listed.one("aws:s3/bucketPolicy:BucketPolicy", "config-policy").plain["policy"])
    assert policy["Statement"][1]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        "arn:aws:iam::123456789012:role/github-deployer"]


def test_rays_processes_cannot_reach_the_instance_metadata_service(aws):
    # EC2 user guide, "Limit access to the instance metadata service": a local firewall rule keeps
    # processes from IMDS; the hop limit does not help here, since the containers use the host network.
    # The rule matches Ray's containers' cgroup (tests/stacks/test_aws_imds_guard.py runs it).
    for files in (written_files(aws.one(INSTANCE, "head-instance").plain["userData"]),
                  written_files(aws.worker_user_data())):
        unit = files["/etc/systemd/system/ray-monitoring-imds-guard.service"]
        rule = "OUTPUT -d 169.254.169.254 -m cgroup --path ray-monitoring-ray.slice -j REJECT"
        assert f"ExecStart=/usr/sbin/iptables -w -I {rule}" in unit
        assert f"ExecStop=/usr/sbin/iptables -w -D {rule}" in unit
        assert "Before=docker.service" in unit
        start = files["/opt/ray-monitoring/bin/start.sh"]
        assert start.index("systemctl enable --now ray-monitoring-imds-guard.service") < start.index("ensure_docker")


def test_the_head_runs_no_task_when_there_are_workers(aws):
    # Ray docs, "Configuring the head node": --num-cpus=0 keeps tasks and actors off the head.
    head = yaml.safe_load(aws.config()["/opt/ray-monitoring/compose.yaml"])["services"]["ray-head"]
    assert "--num-cpus=0" in head["command"]
    alone = run_stack("aws", workerCount="0", workerMaxCount="0")
    assert alone.error is None, alone.error
    head = yaml.safe_load(alone.config()["/opt/ray-monitoring/compose.yaml"])["services"]["ray-head"]
    assert "--num-cpus=0" not in head["command"], "with no worker, the head must run the tasks"
