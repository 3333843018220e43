"""The KMS key the stack's SecureStrings are encrypted with: its own, not the account's `aws/ssm`, whose key
policy lets every principal of the account that may read a parameter decrypt it. Created without a policy,
the key gets KMS's default one (the account's root may administer it), so only principals whose IAM policy
names this key may use it: the head's and the workers' roles (their node roles grant kms:Decrypt through
SSM only) and whoever deploys (with kms permissions of their own)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class SecretsKeyArgs:
    cluster_name: str
    stack: str  # the project/stack it serves, in its description


class SecretsKey(pulumi.ComponentResource):
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: SecretsKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:aws:SecretsKey", name, None, opts)
        key = aws.kms.Key(
            f"{name}-key", description=f"{args.stack} ({args.cluster_name}): the monitoring's SecureStrings",
            enable_key_rotation=True, deletion_window_in_days=7,
            tags={"ray-cluster": args.cluster_name}, opts=pulumi.ResourceOptions(parent=self))
        self.arn = key.arn
        self.register_outputs({"arn": self.arn})
