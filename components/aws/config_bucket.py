"""Private, encrypted S3 bucket holding the head's configuration and the manifest it applies from.

Ray's dashboards are ~1.2 MB together; EC2 user-data holds 16 KB, and a setting in user-data would
replace the head on every change. Only the objects whose content changed are rewritten.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.builders.head_config import MANIFEST_KEY, PREFIX, ConfigFile


@dataclass(frozen=True)
class ConfigBucketArgs:
    cluster_name: str
    files: list[ConfigFile]
    manifest: pulumi.Input[str]  # head_config.manifest(): written after every file it lists
    manifest_signature: pulumi.Input[str]  # head_config.sign(): the head applies only what verifies
    writers: list[pulumi.Input[str]]  # principal ARNs that may write objects; empty: no such restriction


def _resource_name(key: str) -> str:
    return re.sub(r"[^a-zA-Z0-9.-]+", "-", key.removeprefix(PREFIX))


def bucket_policy(bucket_arn: str, writers: list[str]) -> str:
    statements: list[dict[str, Any]] = [{
        "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
    if writers:
        statements.append({
            "Sid": "WritesOnlyByTheDeployers", "Effect": "Deny", "Principal": "*",
            "Action": ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl"],
            "Resource": f"{bucket_arn}/*", "Condition": {"ArnNotEquals": {"aws:PrincipalArn": writers}}})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


class ConfigBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    object_arns: pulumi.Output[str]  # the prefix the head may read
    manifest: aws.s3.BucketObjectv2

    def __init__(self, name: str, args: ConfigBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:aws:ConfigBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=True,
                               tags={"ray-cluster": args.cluster_name}, opts=child)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}], opts=child,
        )
        # Every version kept (a bad write can be rolled back); TLS only; writes only by the deployers.
        aws.s3.BucketVersioning(f"{name}-versioning", bucket=bucket.id,
                                versioning_configuration={"status": "Enabled"}, opts=child)
        aws.s3.BucketPolicy(
            f"{name}-policy", bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, pulumi.Output.all(*args.writers)).apply(
                lambda resolved: bucket_policy(resolved[0], list(resolved[1]))),
            opts=child)
        objects = [
            aws.s3.BucketObjectv2(f"{name}-{_resource_name(f.key)}", bucket=bucket.id, key=f.key, content=f.content,
                                  content_type="application/json" if f.key.endswith(".json") else "text/plain",
                                  opts=child)
            for f in args.files
        ]
        # Last, so the head never reads a manifest naming objects not yet written (it checks sha256 too).
        self.manifest = aws.s3.BucketObjectv2(
            f"{name}-manifest", bucket=bucket.id, key=MANIFEST_KEY, content=args.manifest,
            content_type="application/json", metadata={"signature": args.manifest_signature},
            opts=pulumi.ResourceOptions(parent=self, depends_on=objects))
        self.bucket_name = bucket.bucket
        self.object_arns = bucket.arn.apply(lambda arn: f"{arn}/{PREFIX}*")
        self.register_outputs({"bucket_name": self.bucket_name, "object_arns": self.object_arns})
