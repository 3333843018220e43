"""The shipped stacks' settings: what `--stack minikube`, `--stack kind` and `--stack aws` start from.

A stack file (stacks/Pulumi.<stack>.yaml) is its user's own, not the project's: `pulumi stack init` writes
its encryption salt there and `pulumi config set --secret` its ciphertext, so the files are not tracked
(.gitignore) and a checkout stays clean. A preset lies beneath the stack file and above the table's defaults:
a value the stack sets wins, and an empty one (`pulumi config set KEY ''`) drops the preset's. A stack named
after a preset uses it; any stack can name one (`preset`). Keys a preset sets have no default in Pulumi.yaml
(generate.py leaves them out), because the CLI passes a declared default as if the stack had set it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Preset:
    name: str
    platform: str  # a key of stacks.settings.PLATFORMS
    doc: str  # one line: what the stack is for (docs/configuration.md)
    values: Mapping[str, Any]  # key -> value, as a stack file would set them


MINIKUBE = Preset(
    "minikube", "kubernetes",
    "from a bare `minikube start --cpus 4 --memory 8g`: installs KubeRay, creates a RayCluster with monitoring "
    "wired in, Grafana and the Ray Dashboard on minikube's NodePorts",
    {"installKubeRay": True, "createRayCluster": True, "createNamespace": True,
     "grafanaServiceType": "NodePort", "grafanaNodePort": 30300, "rayDashboardNodePort": 30265})

# The users' CI (.github/workflows/pull-request.yml, zero-to-charts): a kind cluster in a GitHub runner
# (4 CPUs, 16 GB): smaller Ray pods, and no NodePorts (kind's nodes are not reachable; port-forwards are).
KIND = Preset(
    "kind", "kubernetes",
    "the minikube stack on a kind cluster of 4 CPUs and 16 GB (a CI runner): smaller Ray pods, port-forwards "
    "instead of NodePorts",
    {"installKubeRay": True, "createRayCluster": True, "createNamespace": True,
     "rayHeadCpu": "500m", "rayHeadMemory": "1536Mi", "rayWorkerCpu": "250m", "rayWorkerMaxReplicas": 2})

# The region is the AWS provider's own key, read by the provider itself: Pulumi.yaml gives it project-wide.
AWS = Preset("aws", "aws", "a Ray cluster on EC2, reached through the tunnels the stack prints", {})

PRESETS: dict[str, Preset] = {preset.name: preset for preset in (MINIKUBE, KIND, AWS)}

# Every key some preset sets: Pulumi.yaml declares no default for it, and an empty value unsets it.
PRESET_KEYS = frozenset(key for preset in PRESETS.values() for key in preset.values)
