"""Stack compositions and the settings they are built from."""

from __future__ import annotations

from typing import Any, Mapping

from pulumi.runtime import config as runtime_config

from stacks.settings import AwsSettings, KubernetesSettings, load


def build(stack: str, config: Mapping[str, Any]) -> None:
    """Validate every setting first, then compose the stack's platform. Nothing is registered
    when a setting is wrong."""
    settings = load(stack, config, runtime_config.is_config_secret)
    if isinstance(settings, KubernetesSettings):
        from stacks import kubernetes
        from stacks.preflight import ClusterAccess

        # The Kubernetes provider's own settings: the preflight reads the cluster the way it will.
        access = ClusterAccess(config.get("kubernetes:kubeconfig"), config.get("kubernetes:context"))
        kubernetes.build(settings, access)
    elif isinstance(settings, AwsSettings):
        from stacks import aws

        aws.build(settings)
