"""Grafana admin password: generated, kept as an SSM SecureString the head reads with its role."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.generated import generated_secret


@dataclass(frozen=True)
class GrafanaPasswordArgs:
    cluster_name: str
    parameter_prefix: str  # the SecureString is <prefix>/grafana/admin-password
    given: str | None = None  # the user's password (grafanaAdminPassword); None: generated
    key_arn: pulumi.Input[str] | None = None  # the stack's KMS key (SecretsKey); None: the account's aws/ssm


class GrafanaPassword(pulumi.ComponentResource):
    parameter_name: str
    parameter_arn: pulumi.Output[str]
    version: pulumi.Output[int]  # changes with the value: the head's manifest names it
    value: pulumi.Output[str]  # a Pulumi secret

    def __init__(self, name: str, args: GrafanaPasswordArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:aws:GrafanaPassword", name, None, opts)
        value = generated_secret(f"{name}-value", pulumi.ResourceOptions(parent=self), length=32,
                                 given=args.given)
        self.parameter_name = f"{args.parameter_prefix}/grafana/admin-password"
        parameter = aws.ssm.Parameter(
            f"{name}-parameter", name=self.parameter_name, type="SecureString", value=value, key_id=args.key_arn,
            tags={"ray-cluster": args.cluster_name}, opts=pulumi.ResourceOptions(parent=self),
        )
        self.parameter_arn = parameter.arn
        self.version = parameter.version
        self.value = value
        self.register_outputs({"parameter_arn": self.parameter_arn, "value": self.value})
