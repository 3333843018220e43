"""Secrets the stack generates (passwords, keys, tokens): pulumi-random, kept in state, a Pulumi secret;
or the user's own, given as Pulumi secrets (grafanaAdminPassword, grafanaSecretKey, rayAuthToken)."""

from __future__ import annotations

import pulumi
import pulumi_random as random

from components.builders.given_secrets import GivenSecrets

__all__ = ["GivenSecrets", "generated_secret"]


def generated_secret(name: str, opts: pulumi.ResourceOptions, length: int = 48,
                     given: str | None = None) -> pulumi.Output[str]:
    """`given` when set; else letters and digits only (safe in any file, header or URL), generated once, then kept."""
    if given is not None:
        return pulumi.Output.secret(given)
    value = random.RandomPassword(name, length=length, special=False, opts=pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(additional_secret_outputs=["result"])))
    return pulumi.Output.secret(value.result)
