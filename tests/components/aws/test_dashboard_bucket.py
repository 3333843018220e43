"""The dashboards bucket alone, under mocks: private, one object per dashboard."""

from __future__ import annotations

from conftest import run

from components.aws.dashboard_bucket import DashboardBucket, DashboardBucketArgs
from components.builders.grafana_config import Dashboard


def test_dashboard_bucket_alone():
    dashboards = (Dashboard("a.json", "a.json", "a", "u", "{}"),)
    result = run("unit", {}, lambda: DashboardBucket("b", DashboardBucketArgs("c", dashboards)))
    assert result.error is None, result.error
    block = result.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "b-public-access-block").plain
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                           "restrictPublicBuckets"))
    assert result.one("aws:s3/bucketObjectv2:BucketObjectv2", "b-a").plain["key"] == "dashboards/a.json"
