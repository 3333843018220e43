"""The configuration bucket alone, under mocks: private, one object per file, the manifest last."""

from __future__ import annotations

from components.aws.config_bucket import ConfigBucket, ConfigBucketArgs
from components.builders.head_config import ConfigFile
from support.stacks import run

OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"


def test_config_bucket_alone():
    files = [ConfigFile("/opt/ray-monitoring/dashboards/a.json", "{}", "grafana-dashboards"),
             ConfigFile("/opt/ray-monitoring/prometheus/prometheus.yml", "x: 1\n", "prometheus")]
    result = run("unit", {}, lambda: ConfigBucket("b", ConfigBucketArgs("c", files, '{"files": []}', "ab" * 32, [])))
    assert result.error is None, result.error
    block = result.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "b-public-access-block").plain
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                           "restrictPublicBuckets"))
    keys = {r.name: r.plain["key"] for r in result.of_type(OBJECT)}
    assert keys == {"b-dashboards-a.json": "config/dashboards/a.json",
                    "b-prometheus-prometheus.yml": "config/prometheus/prometheus.yml",
                    "b-manifest": "config/manifest.json"}
    manifest, objects = result.one(OBJECT, "b-manifest"), [r for r in result.of_type(OBJECT) if r.name != "b-manifest"]
    assert {o.urn for o in objects} <= manifest.dependencies, "the manifest must be written after its files"
    assert manifest.plain["metadata"] == {"signature": "ab" * 32}
    policy = result.one("aws:s3/bucketPolicy:BucketPolicy", "b-policy").plain["policy"]
    assert "TlsOnly" in policy and "WritesOnlyByTheDeployers" not in policy, "no writers listed: TLS only"
