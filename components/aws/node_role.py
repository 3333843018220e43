"""IAM role and instance profile for Ray nodes: SSM Session Manager, plus exactly what they read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import pulumi
import pulumi_aws as aws

from components.aws.managed_prometheus import QUERY_ACTIONS, WRITE_ACTIONS

# What the SSM agent needs for Session Manager (the actions of AmazonSSMManagedInstanceCore that
# sessions use), named one by one. These actions take no resource ARNs.
SSM_SESSION_ACTIONS = [
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
]


@dataclass(frozen=True)
class NodeRoleArgs:
    cluster_name: str
    parameter_arns: Sequence[pulumi.Input[str]]  # SSM parameters the nodes read
    object_arns: Sequence[pulumi.Input[str]]  # S3 objects (or prefixes ending in /*) the nodes read
    # Amazon Managed Prometheus workspaces the nodes write to (remote write) and query (Grafana).
    write_workspaces: Sequence[pulumi.Input[str]] = ()
    query_workspaces: Sequence[pulumi.Input[str]] = ()
    assume_roles: Sequence[str] = ()  # the roles SigV4 stores name (roleArn)
    decrypt_keys: Sequence[pulumi.Input[str]] = ()  # KMS keys its parameters are encrypted with (through SSM only)


def policy_document(parameter_arns: Sequence[str], object_arns: Sequence[str], write_workspaces: Sequence[str] = (),
                    query_workspaces: Sequence[str] = (), assume_roles: Sequence[str] = (),
                    decrypt_keys: Sequence[str] = ()) -> str:
    statements: list[dict[str, Any]] = [
        {"Sid": "SessionManager", "Effect": "Allow", "Action": SSM_SESSION_ACTIONS, "Resource": "*"}]
    if parameter_arns:
        statements.append({"Sid": "ReadParameters", "Effect": "Allow", "Action": ["ssm:GetParameter"],
                           "Resource": parameter_arns})
    if decrypt_keys:
        # Only as SSM decrypts a parameter for the role: the key itself is no general decryption service.
        statements.append({"Sid": "DecryptParameters", "Effect": "Allow", "Action": ["kms:Decrypt"],
                           "Resource": list(decrypt_keys),
                           "Condition": {"StringLike": {"kms:ViaService": "ssm.*.amazonaws.com"}}})
    if object_arns:
        statements.append({"Sid": "ReadObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
                           "Resource": object_arns})
    if write_workspaces:
        statements.append({"Sid": "RemoteWrite", "Effect": "Allow", "Action": WRITE_ACTIONS,
                           "Resource": list(write_workspaces)})
    if query_workspaces:
        statements.append({"Sid": "QueryWorkspaces", "Effect": "Allow", "Action": QUERY_ACTIONS,
                           "Resource": list(query_workspaces)})
    if assume_roles:
        statements.append({"Sid": "AssumeStoreRoles", "Effect": "Allow", "Action": ["sts:AssumeRole"],
                           "Resource": list(assume_roles)})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


class NodeRole(pulumi.ComponentResource):
    instance_profile_name: pulumi.Output[str]

    def __init__(self, name: str, args: NodeRoleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:aws:NodeRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                               "Principal": {"Service": "ec2.amazonaws.com"}}],
            }),
            tags={"ray-cluster": args.cluster_name},
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(pulumi.Output.all(*args.parameter_arns), pulumi.Output.all(*args.object_arns),
                                     pulumi.Output.all(*args.write_workspaces),
                                     pulumi.Output.all(*args.query_workspaces), pulumi.Output.all(*args.decrypt_keys))
            .apply(lambda arns: policy_document(list(arns[0]), list(arns[1]), list(arns[2]), list(arns[3]),
                                                args.assume_roles, list(arns[4]))),
            opts=child,
        )
        profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, opts=child)
        self.instance_profile_name = profile.name
        self.register_outputs({"instance_profile_name": profile.name})
