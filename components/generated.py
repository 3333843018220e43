"""Secrets the stack generates (passwords, keys, tokens): pulumi-random, kept in state, a Pulumi secret."""

from __future__ import annotations

import pulumi
import pulumi_random as random


def generated_secret(name: str, opts: pulumi.ResourceOptions, length: int = 48) -> pulumi.Output[str]:
    """Letters and digits only (safe in any file, header or URL); generated once, then kept."""
    value = random.RandomPassword(name, length=length, special=False, opts=pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(additional_secret_outputs=["result"])))
    return pulumi.Output.secret(value.result)
