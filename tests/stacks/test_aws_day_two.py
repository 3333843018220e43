"""The aws stack's next `pulumi up` after the account moved on, under mocks that hold what EC2, EBS and SSM
would answer: each test is named after the platform fact it relies on, with its source."""

from __future__ import annotations

import subprocess

import pytest

from components.builders import cloud_init, grafana_provisioning
from components.builders.remote_write import StoreAuth
from support import cloud_mocks
from support.stacks import refused, run_stack, written_files

INSTANCE = "aws:ec2/instance:Instance"
VOLUME = "aws:ebs/volume:Volume"
HEAD_ID, VOLUME_ID = "i-0123456789abcdef0", "vol-0123456789abcdef0"


def running(zone: str = "us-west-2a", instance_type: str = "m5.xlarge", root: int = 100,
            head: bool = True) -> cloud_mocks.CloudMocks:
    """An account where an earlier `pulumi up` left the data volume in `zone`, attached to a head."""
    cloud = cloud_mocks.CloudMocks()
    cloud.volumes = [{"id": VOLUME_ID, "size": 20, "availabilityZone": zone}]
    if head:
        cloud.instances = [{"id": HEAD_ID, "instanceId": HEAD_ID, "instanceType": instance_type,
                            "ami": cloud_mocks.UBUNTU_AMI["id"], "availabilityZone": zone,
                            "ebsBlockDevices": [{"deviceName": "/dev/sdf", "volumeId": VOLUME_ID}],
                            "rootBlockDevices": [{"volumeSize": root}]}]
    return cloud


def head_subnet(result) -> str:
    assert result.error is None, result.error
    return result.one(INSTANCE, "head-instance").plain["subnetId"]


# 1. A change of hardware family changes the image.

def test_ami_forces_a_new_instance_so_a_gpu_head_is_a_replacement_with_the_gpu_ami():
    # Terraform AWS provider, ec2_instance.go: `ami` is ForceNew; ignore_changes on it would keep the CPU
    # image on a GPU type, where Compose asks for the nvidia runtime the image lacks.
    moved = run_stack("aws", headInstanceType="g5.xlarge", mocks=running())
    assert moved.error is None, moved.error
    head = moved.one(INSTANCE, "head-instance")
    assert head.plain["ami"] == cloud_mocks.GPU_AMI["id"] and head.options["ignoreChanges"] == []
    assert any("the head is replaced" in line and "m5.xlarge -> g5.xlarge" in line for line in moved.logs)
    bigger = run_stack("aws", headInstanceType="m5.2xlarge", mocks=running())
    assert bigger.one(INSTANCE, "head-instance").options["ignoreChanges"] == ["ami"], "same family: AMI kept"


def test_gpu_workers_get_a_launch_template_of_their_own_so_the_group_rolls_onto_the_gpu_ami():
    # EC2 Auto Scaling user guide, "Instance refresh": a changed launch template starts a rolling refresh;
    # a new template resource holds the GPU AMI, which ignore_changes on image_id would not give the old one.
    cpu, gpu = run_stack("aws"), run_stack("aws", workerInstanceType="g5.xlarge")
    assert cpu.worker_template().name == "workers-launch-template"
    assert gpu.worker_template().name == "workers-gpu-launch-template"
    assert gpu.worker_template().plain["imageId"] == cloud_mocks.GPU_AMI["id"]
    assert gpu.worker_template().options["ignoreChanges"] == ["imageId"], "a new GPU AMI release rolls nothing"


# 2 and 3. The data volume by a stable name, and nothing started without it.

def test_nvme_device_names_are_not_stable_so_the_volume_is_kept_by_its_filesystem_uuid(aws):
    # EC2 user guide, "Amazon EBS and NVMe": device names are assigned in the order the devices respond
    # and can differ across boots; the by-id link (volume id) and the filesystem UUID do not change.
    files = aws.written()
    mount = files["/opt/ray-monitoring/bin/mount-data.sh"]
    assert "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volume//-/}" in mount
    assert 'echo "/dev/disk/by-uuid/$uuid" > /opt/ray-monitoring/data-device' in mount
    assert "readlink" not in mount + files["/opt/ray-monitoring/bin/start.sh"], "no kernel name is stored"


def test_the_boot_never_enables_docker_work_without_the_volume(aws):
    start = aws.written()["/opt/ray-monitoring/bin/start.sh"]
    mounted = start.index("mountpoint -q /var/lib/ray-monitoring/data ||")
    assert start.index("bash /opt/ray-monitoring/bin/mount-data.sh") < mounted < start.index("apply_config.py")


# 4 and 5. Zones: offered types, and the data volume's zone kept.

def test_subnets_are_chosen_in_zones_that_offer_the_instance_types():
    # EC2 DescribeInstanceTypeOfferings (location type availability-zone): not every zone offers every
    # type (us-east-1's use1-az3 offers neither m5 nor most GPU types).
    assert head_subnet(run_stack("aws")) == "subnet-0aaaaaaaaaaaaaaaa", "first by id while every zone offers it"
    cloud = cloud_mocks.CloudMocks()
    cloud.unoffered = {("us-west-2a", "m5.xlarge")}
    result = run_stack("aws", mocks=cloud)
    assert head_subnet(result) == "subnet-0bbbbbbbbbbbbbbbb"
    assert any("subnet-0bbbbbbbbbbbbbbbb (us-west-2b" in line for line in result.logs), "said at preview"
    nowhere = cloud_mocks.CloudMocks()
    nowhere.unoffered = {(zone, "g5.xlarge") for zone in cloud_mocks.ZONES}
    assert "is not offered" in refused(run_stack("aws", workerInstanceType="g5.xlarge", mocks=nowhere),
                                       "workerInstanceType")


def test_an_ebs_volume_lives_in_one_zone_so_the_head_stays_in_the_volumes_zone():
    # EBS user guide, "Attach a volume": a volume attaches only to instances in its own zone; Terraform
    # AWS provider, ebs_volume.go: `availability_zone` is ForceNew (a move is a new, empty volume).
    kept = run_stack("aws", mocks=running("us-west-2b"))
    assert head_subnet(kept) == "subnet-0bbbbbbbbbbbbbbbb", "not the first by id: the volume's zone"
    assert kept.one(VOLUME, "monitoring-data-volume").plain["availabilityZone"] == "us-west-2b"
    message = refused(run_stack("aws", subnetId="subnet-0aaaaaaaaaaaaaaaa", mocks=running("us-west-2b")),
                      "subnetId")
    assert VOLUME_ID in message and "us-west-2b" in message and "replaceDataVolume" in message
    moved = run_stack("aws", subnetId="subnet-0aaaaaaaaaaaaaaaa", replaceDataVolume="true",
                      mocks=running("us-west-2b"))
    assert head_subnet(moved) == "subnet-0aaaaaaaaaaaaaaaa"
    assert any("a new, empty data volume" in line and "deleted with its history" in line for line in moved.logs)


def test_a_type_the_volumes_zone_does_not_offer_is_refused_rather_than_moving_the_data():
    cloud = running("us-west-2b")
    cloud.unoffered = {("us-west-2b", "m5.2xlarge")}
    message = refused(run_stack("aws", headInstanceType="m5.2xlarge", mocks=cloud), "headInstanceType")
    assert "the data volume's zone us-west-2b" in message


def test_the_volume_found_is_the_one_attached_to_the_running_head():
    # A volume kept by retainData after a destroy lies beside the one the head uses: the head's decides.
    cloud = running("us-west-2b")
    cloud.volumes.insert(0, {"id": "vol-0000000000000000a", "size": 20, "availabilityZone": "us-west-2a"})
    assert head_subnet(run_stack("aws", mocks=cloud)) == "subnet-0bbbbbbbbbbbbbbbb"
    (lookup,) = [a for t, a in cloud.invokes if t == "aws:ec2/getInstances:getInstances"]
    assert set(lookup["instanceStateNames"]) >= {"running", "stopped"}, "a stopped head still holds its volume"


# 6. A rotated token reaches the workers; a worker that cannot rejoin leaves.

def test_ssm_adds_a_version_per_value_so_a_rotated_token_is_a_new_launch_template():
    # SSM API, GetParameter: `Name` may be `name:version`; PutParameter with Overwrite adds a version.
    # EC2 Auto Scaling user guide, "Instance refresh": a new launch template version rolls the workers.
    name = "/ray-monitoring/aws/ray-cluster/ray/auth-token"
    before = run_stack("aws")
    rotated_cloud = cloud_mocks.CloudMocks()
    rotated_cloud.parameter_versions = {name: 2}
    rotated = run_stack("aws", mocks=rotated_cloud)
    start = written_files(before.worker_user_data())["/opt/ray-monitoring/bin/start.sh"]
    assert f"us-west-2 {name}:1 " in start
    assert f"us-west-2 {name}:2 " in written_files(rotated.worker_user_data())["/opt/ray-monitoring/bin/start.sh"]
    assert before.worker_template().plain["userData"] != rotated.worker_template().plain["userData"]


def test_a_rotated_log_store_header_is_a_new_launch_template_too():
    # As Ray's token: the header's SecureString version is in the workers' user data.
    name = "/ray-monitoring/aws/ray-cluster/logs/authorization"
    settings = dict(secrets={"logsAuth": {"type": "bearer", "token": "t"}}, logsUrl="https://logs.example.com")
    rotated_cloud = cloud_mocks.CloudMocks()
    rotated_cloud.parameter_versions = {name: 2}
    before, rotated = run_stack("aws", **settings), run_stack("aws", mocks=rotated_cloud, **settings)
    assert f"us-west-2 {name}:1 " in written_files(before.worker_user_data())["/opt/ray-monitoring/bin/start.sh"]
    assert f"us-west-2 {name}:2 " in written_files(rotated.worker_user_data())["/opt/ray-monitoring/bin/start.sh"]
    assert before.worker_template().plain["userData"] != rotated.worker_template().plain["userData"]


@pytest.fixture
def health(tmp_path):
    """The shipped worker health script, run by bash with curl and shutdown stood in for on PATH."""
    script = tmp_path / "worker-health.sh"
    count = tmp_path / "unhealthy-minutes"
    script.write_text(cloud_init.WORKER_HEALTH_SCRIPT.replace(cloud_init.WORKER_HEALTH_COUNT, str(count)))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("curl", 'exit "$(cat "$CURL_EXIT")"'), ("shutdown", 'echo "$@" >> "$SHUTDOWN_LOG"')):
        (bin_dir / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    curl_exit, log = tmp_path / "curl-exit", tmp_path / "shutdown.log"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CURL_EXIT": str(curl_exit), "SHUTDOWN_LOG": str(log)}

    def tick(ray_up: bool) -> str:
        curl_exit.write_text("0" if ray_up else "7")
        subprocess.run(["bash", str(script)], env=env, check=True, capture_output=True, timeout=30)
        return log.read_text() if log.exists() else ""
    return tick


def test_ec2_health_checks_see_only_the_instance_so_a_worker_whose_ray_stays_down_shuts_down(health, aws):
    # EC2 Auto Scaling user guide, "Health checks": with EC2 checks a running instance is healthy whatever
    # runs on it; the launch template's `terminate` shutdown behaviour makes a shutdown a replacement.
    for _ in range(cloud_init.WORKER_HEALTH_MINUTES - 1):
        assert health(ray_up=False) == ""
    assert health(ray_up=True) == "", "Ray back: the count starts again"
    for _ in range(cloud_init.WORKER_HEALTH_MINUTES - 1):
        assert health(ray_up=False) == ""
    assert health(ray_up=False) == "-h now\n"
    files = written_files(aws.worker_user_data())
    assert "systemctl enable --now ray-monitoring-worker-health.timer" in files["/opt/ray-monitoring/bin/start.sh"]
    assert "OnUnitActiveSec=1min" in files["/etc/systemd/system/ray-monitoring-worker-health.timer"]


# 7. A custom VPC.

def test_a_vpc_without_a_subnet_is_refused_before_anything_is_looked_up():
    message = refused(run_stack("aws", vpcId="vpc-0fffffffffffffff0"), "vpcId")
    assert "subnetId" in message


def test_an_elastic_ip_needs_an_internet_gateway_route():
    # EC2 user guide, "Elastic IP addresses": an Elastic IP reaches an instance only through the VPC's
    # internet gateway; AssociateAddress fails in a VPC without one (Gateway.NotAttached).
    message = refused(run_stack("aws", subnetId="subnet-0cccccccccccccccc"), "headElasticIp")
    assert "nat-0c1d2e3f" in message and "pulumi config set headElasticIp false" in message
    private = run_stack("aws", subnetId="subnet-0cccccccccccccccc", headElasticIp="false")
    assert head_subnet(private) == "subnet-0cccccccccccccccc"


def test_a_subnet_without_a_route_out_is_refused():
    message = refused(run_stack("aws", subnetId="subnet-0eeeeeeeeeeeeeeee", headElasticIp="false"), "subnetId")
    assert "no route to 0.0.0.0/0" in message


def test_a_subnet_without_its_own_route_table_uses_its_vpcs_main_table():
    # Terraform AWS provider, vpc_route_table_data_source.go: `subnet_id` filters association.subnet-id
    # only, so a subnet on its VPC's main table needs the main table looked up (association.main).
    cloud = cloud_mocks.CloudMocks()
    cloud.subnets["subnet-0aaaaaaaaaaaaaaaa"]["main"] = True
    assert head_subnet(run_stack("aws", mocks=cloud)) == "subnet-0aaaaaaaaaaaaaaaa"
    cloud = cloud_mocks.CloudMocks()
    cloud.subnets["subnet-0aaaaaaaaaaaaaaaa"]["main"] = True
    cloud.main_routes[cloud_mocks.DEFAULT_VPC] = None
    refused(run_stack("aws", subnetId="subnet-0aaaaaaaaaaaaaaaa", mocks=cloud), "subnetId")


def test_worker_subnets_must_route_out_through_nat():
    message = refused(run_stack("aws", workerSubnetIds=["subnet-0aaaaaaaaaaaaaaaa"]), "workerSubnetIds")
    assert "igw-0a1b2c3d" in message


# 8. Shared AMIs.

def test_describe_images_without_owners_finds_an_ami_shared_with_the_account():
    # EC2 API, DescribeImages: without Owners, image ids return every image the account may launch,
    # shared ones included; Terraform AWS provider v6 refuses only most_recent without owner or image id.
    result = run_stack("aws", amiId="ami-0123456789abcdef0")
    assert result.error is None, result.error
    (lookup,) = [a for t, a in result.mocks.invokes if t == "aws:ec2/getAmi:getAmi"]
    assert "owners" not in lookup and not lookup.get("mostRecent")


# 9. The root volume resizes in place.

def test_the_root_volume_resizes_in_place_and_ebs_cannot_shrink_it():
    # Terraform AWS provider, ec2_instance.go: root_block_device.volume_size is not ForceNew (ModifyVolume
    # in place); EBS user guide, "Modify a volume": the new size must be at least the current one.
    message = refused(run_stack("aws", rootVolumeSize="80", mocks=running(root=120)), "rootVolumeSize")
    assert "pulumi config set rootVolumeSize 120" in message
    grown = run_stack("aws", rootVolumeSize="200", mocks=running(root=120))
    head = grown.one(INSTANCE, "head-instance")
    assert head.plain["rootBlockDevice"]["volumeSize"] == 200 and head.plain["ami"] == cloud_mocks.UBUNTU_AMI["id"]


# 10. Smaller ones.

@pytest.mark.parametrize("instance_type", ["p3.2xlarge", "g3s.xlarge"])
def test_the_oss_driver_gpu_ami_supports_turing_and_newer_only(instance_type):
    # AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) release notes: supported instances
    # are Turing and newer (G4dn, G5, G6, P4, P5 ...); V100 (p3) and M60 (g3) are not.
    message = refused(run_stack("aws", workerInstanceType=instance_type), "workerInstanceType")
    assert "older than Turing" in message and "amiHasNvidiaDriver" in message
    assert run_stack("aws", workerInstanceType="g4dn.xlarge").error is None
    own = run_stack("aws", workerInstanceType=instance_type, amiId="ami-0123456789abcdef0",
                    amiHasNvidiaDriver="true")
    assert own.error is None, own.error


def test_grafana_13_drops_sigv4_from_its_core_prometheus_datasource():
    # Grafana 13 breaking changes: SigV4 leaves the core Prometheus datasource for the Amazon Managed
    # Prometheus plugin. This fails when GRAFANA_IMAGE moves past 12 until the managed path moves with it.
    assert grafana_provisioning.grafana_major() <= grafana_provisioning.SIGV4_CORE_LAST_MAJOR
    workspace = "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1/"
    assert "sigV4Auth" in grafana_provisioning.datasource_provisioning("Prometheus", workspace,
                                                                       StoreAuth("sigv4", "us-west-2"))
    assert grafana_provisioning.grafana_major("grafana/grafana:13.0.1") == 13


def test_a_gpu_heads_first_pull_has_an_hour():
    from components.builders.head_config import APPLY_SCRIPT

    # systemd.service(5): a Type=oneshot service has no start timeout unless TimeoutStartSec= sets one.
    assert "TimeoutStartSec" not in cloud_init.APPLY_SERVICE and "Type=oneshot" in cloud_init.APPLY_SERVICE
    assert 'head.compose("up", "-d", "--remove-orphans", timeout=COMPOSE_UP_TIMEOUT)' in APPLY_SCRIPT
    assert "COMPOSE_UP_TIMEOUT = 3600" in APPLY_SCRIPT
