"""Stack compositions and the settings they are built from."""

from __future__ import annotations

from typing import Any, Mapping

from stacks.settings import AwsSettings, KubernetesSettings, load


def build(stack: str, config: Mapping[str, Any]) -> None:
    """Validate every setting first, then compose the stack's platform. Nothing is registered
    when a setting is wrong."""
    settings = load(stack, config)
    if isinstance(settings, KubernetesSettings):
        from stacks import kubernetes

        kubernetes.build(settings)
    elif isinstance(settings, AwsSettings):
        from stacks import aws

        aws.build(settings)
