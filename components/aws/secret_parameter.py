"""A Pulumi secret kept as an SSM SecureString, which the head reads at boot with its role."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class SecretParameterArgs:
    cluster_name: str
    name: str  # the SecureString's name, e.g. /ray-monitoring/aws/ray-cluster/alertmanager/config
    value: pulumi.Input[str]  # a Pulumi secret
    key_arn: pulumi.Input[str] | None = None  # the stack's KMS key (SecretsKey); None: the account's aws/ssm


class SecretParameter(pulumi.ComponentResource):
    parameter_name: str
    parameter_arn: pulumi.Output[str]
    version: pulumi.Output[int]  # changes with the value: the head's manifest names it

    def __init__(self, name: str, args: SecretParameterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:aws:SecretParameter", name, None, opts)
        self.parameter_name = args.name
        parameter = aws.ssm.Parameter(
            f"{name}-parameter", name=self.parameter_name, type="SecureString",
            value=pulumi.Output.secret(args.value), key_id=args.key_arn, tags={"ray-cluster": args.cluster_name},
            # Standard (free) up to 4 KB; Advanced only when a large configuration needs it.
            tier="Intelligent-Tiering", opts=pulumi.ResourceOptions(parent=self),
        )
        self.parameter_arn = parameter.arn
        self.version = parameter.version
        self.register_outputs({"parameter_arn": self.parameter_arn})
