"""Private, encrypted S3 bucket holding the dashboards the head's Grafana loads at boot.

Ray's dashboards are ~1.2 MB together; EC2 user-data holds 16 KB.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.builders.grafana_config import Dashboard

PREFIX = "dashboards"


@dataclass(frozen=True)
class DashboardBucketArgs:
    cluster_name: str
    dashboards: tuple[Dashboard, ...]


class DashboardBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    object_arns: pulumi.Output[str]  # the prefix the head may read
    keys: tuple[str, ...]

    def __init__(self, name: str, args: DashboardBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:aws:DashboardBucket", name, None, opts)
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
        keys = []
        for dashboard in args.dashboards:
            key = f"{PREFIX}/{dashboard.file_name}"
            aws.s3.BucketObjectv2(f"{name}-{dashboard.slug}", bucket=bucket.id, key=key,
                                  content=dashboard.content, content_type="application/json", opts=child)
            keys.append(key)
        self.bucket_name = bucket.bucket
        self.object_arns = bucket.arn.apply(lambda arn: f"{arn}/{PREFIX}/*")
        self.keys = tuple(keys)
        self.register_outputs({"bucket_name": self.bucket_name, "object_arns": self.object_arns})
