"""The aws stack's user-data, taken from what the program registers, through the tools that consume it."""

from __future__ import annotations

import json
import py_compile
import subprocess
from pathlib import Path

import pytest
import yaml

from components.builders.cloud_init import EC2_USER_DATA_LIMIT
from support.promql import RULES_FOUND
from support.stacks import Run, run_stack, written_files
from support.tools import compose_config, compose_tools, tool

# Debian's cloud-init lives in the system Python, not in the virtualenv.
SYSTEM_PYTHON = "/usr/bin/python3"
CLOUD_INIT_CHECK = """
import json, sys, yaml
from cloudinit.config.schema import get_schema, validate_cloudconfig_schema
text = open(sys.argv[1]).read()
assert text.startswith("#cloud-config\\n"), "user-data must start with #cloud-config"
config = yaml.safe_load(text)
schema = get_schema()
# strict=True misses misspelt top-level keys: check them against every module's schema.
known = set()
for part in schema["allOf"]:
    known |= set(schema["$defs"][part["$ref"].split("/")[-1]].get("properties", {}))
unknown = sorted(set(config) - known)
assert not unknown, f"unknown top-level keys {unknown}"
validate_cloudconfig_schema(config, schema, strict=True)
print("valid")
"""




def check(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def variants() -> dict[str, Run]:
    """The stacks whose files differ: with Alertmanager, with GPUs on both node kinds, with the user's Loki."""
    runs = {
        "alerting": run_stack("aws", secrets={"alertReceivers": [
            {"name": "hook", "type": "webhook", "url": "https://hooks.example.com/x"}]}),
        "gpu": run_stack("aws", headInstanceType="g5.xlarge", workerInstanceType="g5.xlarge"),
        # The workers fetch the log store's header at boot.
        "users-loki": run_stack("aws", secrets={"logsAuth": {"type": "bearer", "token": "t"}},
                                logsUrl="https://logs.example.com"),
    }
    for name, result in runs.items():
        assert result.error is None, f"{name}: {result.error!r}"
    return runs


def user_data_texts(aws: Run, variants: dict[str, Run]) -> dict[str, str]:
    texts = {}
    for name, result in {"default": aws, **variants}.items():
        texts[f"head-{name}"] = result.one("aws:ec2/instance:Instance", "head-instance").plain["userData"]
        texts[f"worker-{name}"] = result.worker_user_data()
    return texts


def test_user_data_passes_cloud_init_schema_strict(aws, variants, tmp_path):
    assert Path(SYSTEM_PYTHON).exists()
    for name, text in user_data_texts(aws, variants).items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        result = check([SYSTEM_PYTHON, "-c", CLOUD_INIT_CHECK, str(path)])
        assert result.returncode == 0 and "valid" in result.stdout, f"{name}: {result.stderr}"


def test_cloud_init_check_catches_mistakes(aws, tmp_path):
    text = aws.one("aws:ec2/instance:Instance", "head-instance").plain["userData"]
    for broken in (text.replace("write_files:", "write_file:"),
                   text.replace("permissions: '0755'", "permissions: 493")):
        assert broken != text
        path = tmp_path / "broken.yaml"
        path.write_text(broken)
        assert check([SYSTEM_PYTHON, "-c", CLOUD_INIT_CHECK, str(path)]).returncode != 0


def test_user_data_fits_ec2(aws, variants):
    for name, text in user_data_texts(aws, variants).items():
        size = len(text.encode())
        assert size <= EC2_USER_DATA_LIMIT, f"{name} user-data is {size} bytes, over EC2's 16 KB"
        print(f"{name}: {size} bytes of user-data")


def compose_files(aws: Run, variants: dict[str, Run]) -> dict[str, str]:
    files = {}
    for name, result in {"default": aws, **variants}.items():
        files[f"head-{name}"] = result.config()["/opt/ray-monitoring/compose.yaml"]
        files[f"worker-{name}"] = written_files(result.worker_user_data())["/opt/ray-monitoring/compose.yaml"]
    return files


def test_compose_files_pass_docker_compose_config(aws, variants, tmp_path):
    directories = []
    for node, text in compose_files(aws, variants).items():
        directory = tmp_path / node
        directory.mkdir()
        (directory / "compose.yaml").write_text(text)
        # The head's .env is written on the instance; give compose the same variable.
        (directory / ".env").write_text("RAY_GRAFANA_IFRAME_HOST=http://localhost:3000\n")
        directories.append(directory)
    for (directory, compose_tool), rendered in compose_config(directories).items():
        node = directory.name
        assert rendered.returncode == 0, f"{node} ({compose_tool}): {rendered.stdout}{rendered.stderr}"
        assert "http://localhost:3000" in rendered.stdout or node.startswith("worker")
        if node.endswith("gpu"):
            assert "nvidia" in rendered.stdout, f"{node}: {compose_tool} dropped the GPU request"
    assert "alertmanager" in variants["alerting"].config()["/opt/ray-monitoring/compose.yaml"]


def test_docker_compose_rejects_a_broken_file(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  x:\n    image: a\n    shm_sise: 1gb\n")
    for compose_tool in compose_tools():
        assert check([compose_tool, "-f", str(tmp_path / "compose.yaml"), "config", "-q"],
                     cwd=tmp_path).returncode != 0, compose_tool


def test_prometheus_yml_passes_promtool(aws, tmp_path):
    files = aws.config()
    config = yaml.safe_load(files["/opt/ray-monitoring/prometheus/prometheus.yml"])
    # The rule file sits beside prometheus.yml (/etc/prometheus in the container): check it too.
    assert config["rule_files"] == ["/etc/prometheus/ray-alerts.yml"]
    rules = tmp_path / "ray-alerts.yml"
    rules.write_text(files["/opt/ray-monitoring/prometheus/ray-alerts.yml"])
    config["rule_files"] = [str(rules)]
    # Point the discovery file at one in the temp dir, as Ray writes it.
    sd_file = tmp_path / "sd.json"
    sd_file.write_text(json.dumps([{"labels": {"job": "ray"}, "targets": ["10.0.1.10:8080", "10.0.1.10:44217"]}]))
    for job in config["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [str(sd_file)]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = check([tool("promtool"), "check", "config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert RULES_FOUND in result.stdout + result.stderr


def test_scripts_pass_shellcheck_and_compile(aws, variants, tmp_path):
    checked = 0
    for name, text in user_data_texts(aws, variants).items():
        for path, content in written_files(text).items():
            if path.endswith(".sh"):
                script = tmp_path / f"{name}-{Path(path).name}"
                script.write_text(content)
                result = check([tool("shellcheck"), "--shell=bash", str(script)])
                assert result.returncode == 0, f"{name} {path}:\n{result.stdout}"
                checked += 1
            if path.endswith(".py"):
                source = tmp_path / f"{name}-{Path(path).name}"
                source.write_text(content)
                py_compile.compile(str(source), doraise=True)
        for command in yaml.safe_load(text)["runcmd"]:
            assert isinstance(command, list), "runcmd entries are argument lists, not shell strings"
    # Each node's start.sh, the head's mount-data.sh and each worker's worker-health.sh.
    assert checked == 2 * len(user_data_texts(aws, variants))


def test_shellcheck_catches_mistakes(tmp_path):
    script = tmp_path / "bad.sh"
    script.write_text("#!/usr/bin/env bash\nrm -rf $dir/*\n")
    assert check([tool("shellcheck"), str(script)]).returncode != 0


def systemd_verify(directory: Path) -> subprocess.CompletedProcess:
    units = sorted(str(p) for p in directory.iterdir())
    return check([tool("systemd-analyze"), "verify", "--man=no", *units], cwd=directory)


def test_systemd_units_pass_systemd_analyze(aws, tmp_path):
    files = {**written_files(aws.worker_user_data()),
             **written_files(aws.one("aws:ec2/instance:Instance", "head-instance").plain["userData"])}
    units = {Path(path).name: content for path, content in files.items()
             if Path(path).parent == Path("/etc/systemd/system")}
    assert sorted(units) == ["ray-monitoring-apply.service", "ray-monitoring-apply.timer",
                             "ray-monitoring-imds-guard.service", "ray-monitoring-ray.slice",
                             "ray-monitoring-worker-health.service", "ray-monitoring-worker-health.timer"]
    # Docker's drop-ins, each checked as the [Unit] section of a unit of its own (a drop-in alone is no unit).
    for drop_in in ("ray-monitoring-data", "ray-monitoring-imds-guard"):
        units[f"docker-{drop_in}-check.service"] = (files[f"/etc/systemd/system/docker.service.d/{drop_in}.conf"]
                                                    + "\n[Service]\nType=oneshot\nExecStart=/bin/true\n")
    for name, content in units.items():
        (tmp_path / name).write_text(content)
    result = systemd_verify(tmp_path)
    # systemd-analyze exits 0 on unknown keys and only warns: any output is a finding.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr
    (tmp_path / "ray-monitoring-apply.timer").write_text(units["ray-monitoring-apply.timer"].replace(
        "OnActiveSec", "OnActivSec"))
    assert "Unknown key" in systemd_verify(tmp_path).stderr


def test_docker_starts_containers_only_after_the_data_volume_is_mounted(aws):
    # systemd.unit(5), RequiresMountsFor=: adds Requires= and After= on the mount units of the path;
    # systemd-fstab-generator(8) makes that mount unit from the fstab line the boot script writes.
    # Docker's unit starts the containers it restarts, so without this a reboot races the mount.
    files = written_files(aws.one("aws:ec2/instance:Instance", "head-instance").plain["userData"])
    drop_in = files["/etc/systemd/system/docker.service.d/ray-monitoring-data.conf"]
    assert "[Unit]\nRequiresMountsFor=/var/lib/ray-monitoring/data\n" in drop_in
    mount = files["/opt/ray-monitoring/bin/mount-data.sh"]
    assert " /var/lib/ray-monitoring/data ext4 defaults,nofail 0 2" in mount


def test_deployed_yaml_has_no_aliases(aws):
    for path, content in aws.config().items():
        if path.endswith((".yml", ".yaml")):
            assert "&id" not in content and "*id" not in content, f"{path} uses YAML aliases"
