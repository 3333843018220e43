"""Stack files are their users' own: the real Pulumi CLI's first commands leave a checkout clean, and the
commands docs/configuration.md gives an older checkout keep its stack file through `git pull`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from support.paths import PROJECT_ROOT
from support.tools import tool

DOCS = PROJECT_ROOT / "docs" / "configuration.md"
MIGRATION_MARKER = "<!-- the commands tests/stacks/test_stack_files.py runs -->"
# What the stack files shipped before they were their users' (the last tracked minikube one).
OLD_MINIKUBE_FILE = """config:
  ray-monitoring:installKubeRay: true
  ray-monitoring:createRayCluster: true
  ray-monitoring:createNamespace: true
  ray-monitoring:grafanaServiceType: NodePort
  ray-monitoring:grafanaNodePort: 30300
  ray-monitoring:rayDashboardNodePort: 30265
"""


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=_git_env(cwd))
    assert not check or done.returncode == 0, f"git {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


def _git_env(cwd: Path) -> dict[str, str]:
    home = cwd.parent / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "user", "GIT_AUTHOR_EMAIL": "user@example.com",
            "GIT_COMMITTER_NAME": "user", "GIT_COMMITTER_EMAIL": "user@example.com"}


def checkout_of_this_project(where: Path) -> Path:
    """A git checkout holding this project's files as they are now (tracked, and new ones not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True, timeout=60).stdout
    for name in filter(None, listed.split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, where / name)
    git(where, "init", "-q", "-b", "main")
    git(where, "add", "-A")
    git(where, "commit", "-q", "-m", "this project")
    return where


def test_the_first_commands_leave_the_checkout_clean(tmp_path):
    checkout = checkout_of_this_project(tmp_path / "ray-monitoring")
    env = {**os.environ, "PULUMI_HOME": str(tmp_path / "pulumi-home"), "PULUMI_SKIP_UPDATE_CHECK": "true",
           "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}", "PULUMI_CONFIG_PASSPHRASE": "a passphrase",
           "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true"}
    (tmp_path / "state").mkdir()

    def pulumi(*args: str) -> str:
        done = subprocess.run([tool("pulumi"), *args], cwd=checkout, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"pulumi {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    # docs/kubernetes.md's first steps, and what a user sets next.
    pulumi("stack", "init", "minikube")
    pulumi("config", "set", "--secret", "grafanaAdminPassword", "a-password-of-my-own-0123", "--stack", "minikube")
    pulumi("config", "set", "scrapeInterval", "10s", "--stack", "minikube")
    pulumi("config", "set", "rayDashboardNodePort", "", "--stack", "minikube")

    stack_file = checkout / "stacks" / "Pulumi.minikube.yaml"
    written = yaml.safe_load(stack_file.read_text())
    assert written["encryptionsalt"] and written["config"]["ray-monitoring:grafanaAdminPassword"]["secure"]
    assert written["config"]["ray-monitoring:rayDashboardNodePort"] == "", "the CLI keeps an empty value"
    assert git(checkout, "status", "--porcelain").stdout == "", "the checkout stays clean"
    assert git(checkout, "check-ignore", "stacks/Pulumi.minikube.yaml").returncode == 0
    assert "a-password-of-my-own" not in stack_file.read_text()


def migration_commands() -> list[str]:
    text = DOCS.read_text()
    block = re.search(r"```bash\n(.*?)```", text[text.index(MIGRATION_MARKER):], re.S)
    assert block, f"docs/configuration.md: a bash block after {MIGRATION_MARKER}"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_documented_commands_keep_an_older_checkouts_stack_file_through_git_pull(tmp_path):
    # Upstream: first with the tracked stack file, then as this project is now (the file gone, ignored).
    upstream = tmp_path / "upstream"
    (upstream / "stacks").mkdir(parents=True)
    (upstream / "stacks" / "Pulumi.minikube.yaml").write_text(OLD_MINIKUBE_FILE)
    (upstream / "stacks" / "__init__.py").write_text('"""The stacks: the directory outlives its stack files."""\n')
    (upstream / ".gitignore").write_text("venv/\n")
    git(upstream, "init", "-q", "-b", "main")
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", "tracked stack files")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(upstream), str(clone))
    git(upstream, "rm", "-q", "stacks/Pulumi.minikube.yaml")
    shutil.copy2(PROJECT_ROOT / ".gitignore", upstream / ".gitignore")
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", "stack files are their users'")

    # The user's `pulumi stack init` and `config set --secret` changed the tracked file.
    mine = OLD_MINIKUBE_FILE.replace("config:\n", "encryptionsalt: v1:abc=:v1:def:ghi==\nconfig:\n") + \
        "  ray-monitoring:grafanaAdminPassword:\n    secure: v1:ciphertext==\n"
    (clone / "stacks" / "Pulumi.minikube.yaml").write_text(mine)
    refused = git(clone, "pull", "-q", check=False)
    assert refused.returncode != 0
    assert "Your local changes to the following files would be overwritten by merge" in refused.stderr

    for line in migration_commands():
        done = subprocess.run(["bash", "-c", line], cwd=clone, capture_output=True, text=True, timeout=60,
                              env=_git_env(clone))
        assert done.returncode == 0, f"{line}: {done.stdout}{done.stderr}"
    assert (clone / "stacks" / "Pulumi.minikube.yaml").read_text() == mine, "the stack file is kept byte for byte"
    assert git(clone, "rev-parse", "HEAD").stdout == git(upstream, "rev-parse", "HEAD").stdout
    assert git(clone, "status", "--porcelain").stdout == "", "and is now ignored"
