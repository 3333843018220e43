"""The aws change table (stacks/settings/changes.py) held to the program: each setting changed under the
cloud mocks, the second run seeing what the first made, and the difference read with the provider's
replacement facts (tests/support/aws_changes.py)."""

from __future__ import annotations

import pytest

from stacks.settings.changes import BY_KEY, CHANGES
from stacks.settings.generate import aws_doc
from stacks.settings.table import rows
from support.aws_changes import effects
from support.certificates import self_signed
from support.paths import PROJECT_ROOT

RECEIVERS = {"alertReceivers": [{"name": "hook", "type": "webhook", "url": "https://hooks.example.com/x"}]}
WRITES = {"remoteWrite": [{"url": "https://mimir.example.com/api/v1/push",
                           "auth": {"type": "bearer", "token": "store-token-0002"}}]}
QUERY = "https://mimir.example.com/prometheus"
LOGS_AUTH = {"type": "bearer", "token": "logs-write-0004"}
TLS_HOST = "https://grafana.example.com:3443"
CIDR = ["203.0.113.7/32"]


def tls_change(pem: dict[str, str]) -> tuple[dict, dict]:
    return {"grafanaIframeHost": TLS_HOST, "grafanaTlsCertificate": pem["certificate"]}, {"grafanaTlsKey": pem["key"]}


# key or (key, when) -> (base config, base secrets, changed config, changed secrets)
def examples(pem: dict[str, str]) -> dict:
    def plain(**change):
        return {}, None, change, None

    tls, tls_key = tls_change(pem)
    return {
        "scrapeInterval": plain(scrapeInterval="10s"), "retentionTime": plain(retentionTime="30d"),
        "rayNodes": plain(rayNodes="50"), "metricCardinalityLevel": plain(metricCardinalityLevel="low"),
        "retentionSize": plain(retentionSize="40GB"), "prometheusMemoryLimit": plain(prometheusMemoryLimit="1Gi"),
        "datasourceName": plain(datasourceName="Ray Prometheus"),
        "grafanaIframeHost": plain(grafanaIframeHost="http://grafana.example.com:3000"),
        "rayVersion": plain(rayVersion="2.58.1"), "rayImage": plain(rayImage="rayproject/ray:2.60.0-py311"),
        "alertTargetDownFor": plain(alertTargetDownFor="5m"), "alertFor": plain(alertFor="10m"),
        "alertObjectStorePercent": plain(alertObjectStorePercent="80"),
        "alertNodeMemoryPercent": plain(alertNodeMemoryPercent="80"), "alertFailedTasks": plain(alertFailedTasks="20"),
        "alertGpuMemoryPercent": plain(alertGpuMemoryPercent="80"),
        "alertSeverity": plain(alertSeverity={"RayObjectStoreFull": "critical"}),
        "alertReceivers": ({}, None, {}, RECEIVERS),
        "externalAlertmanagerUrl": plain(externalAlertmanagerUrl="http://alertmanager.example.com:9093"),
        "alertGroupWait": ({}, RECEIVERS, {"alertGroupWait": "1m"}, None),
        "alertGroupInterval": ({}, RECEIVERS, {"alertGroupInterval": "10m"}, None),
        "alertRepeatInterval": ({}, RECEIVERS, {"alertRepeatInterval": "8h"}, None),
        "remoteWrite": ({}, None, {}, WRITES),
        "prometheusAgent": ({}, None, {"prometheusAgent": "true", "grafanaQueryUrl": QUERY}, WRITES),
        "grafanaQueryUrl": ({}, WRITES, {"grafanaQueryUrl": QUERY}, None),
        "grafanaQueryAuth": ({"grafanaQueryUrl": QUERY}, WRITES, {},
                             {"grafanaQueryAuth": {"type": "bearer", "token": "query-token-0003"}}),
        "logs": plain(logs="false"), "logsRetention": plain(logsRetention="30d"),
        "logsUrl": plain(logsUrl="https://logs.example.com"),
        "logsAuth": ({"logsUrl": "https://logs.example.com"}, None, {}, {"logsAuth": LOGS_AUTH}),
        "logsQueryAuth": ({"logsUrl": "https://logs.example.com"}, {"logsAuth": LOGS_AUTH}, {},
                          {"logsQueryAuth": {"type": "bearer", "token": "logs-read-0005"}}),
        "aws:region": plain(**{"aws:region": "eu-west-1"}), "clusterName": plain(clusterName="training"),
        "vpcId": plain(vpcId="vpc-0fffffffffffffff0", subnetId="subnet-0ffffffffffffffff"),
        "subnetId": plain(subnetId="subnet-01111111111111111"),
        ("subnetId", "in another zone"): plain(subnetId="subnet-0bbbbbbbbbbbbbbbb"),
        "allowedCidrs": plain(allowedCidrs=CIDR), "allowWorldAccess": plain(allowWorldAccess="true"),
        "rayTokenAuth": plain(rayTokenAuth="false"),
        "grafanaAdminPassword": ({}, None, {}, {"grafanaAdminPassword": "correct-horse-battery-staple"}),
        "grafanaSecretKey": ({}, None, {}, {"grafanaSecretKey": "k" * 40}),
        "rayAuthToken": ({}, None, {}, {"rayAuthToken": "t" * 40}),
        "grafanaTlsCertificate": ({}, None, tls, tls_key), "grafanaTlsKey": ({}, None, tls, tls_key),
        "openRayDashboard": ({"allowedCidrs": CIDR}, None, {"openRayDashboard": "true"}, None),
        "headElasticIp": plain(headElasticIp="false"),
        "workerSubnetIds": plain(workerSubnetIds=["subnet-0cccccccccccccccc"]),
        "configWriterArns": plain(configWriterArns=["arn:aws:iam::123456789012:role/deployer"]),
        "keyName": plain(keyName="my-key"), "headInstanceType": plain(headInstanceType="m5.2xlarge"),
        ("headInstanceType", "CPU to GPU type, or back"): plain(headInstanceType="g5.xlarge"),
        "workerInstanceType": plain(workerInstanceType="m5.2xlarge"),
        "workerCount": plain(workerCount="2", workerMaxCount="4"), "workerMinCount": plain(workerMinCount="0"),
        "workerMaxCount": plain(workerMaxCount="10"), "rootVolumeSize": plain(rootVolumeSize="200"),
        ("rootVolumeSize", "smaller than the head's"): ({"rootVolumeSize": "200"}, None, {"rootVolumeSize": "150"},
                                                         None),
        "amiId": plain(amiId="ami-0123456789abcdef0"), "amiHasNvidiaDriver": plain(amiHasNvidiaDriver="true"),
        "dataVolumeSize": plain(dataVolumeSize="200"),
        ("dataVolumeSize", "below the volume's size"): ({"dataVolumeSize": "200"}, None, {"dataVolumeSize": "100"},
                                                         None),
        "retainData": plain(retainData="true"),
        "replaceDataVolume": plain(replaceDataVolume="true", subnetId="subnet-0bbbbbbbbbbbbbbbb"),
        "managedPrometheus": plain(managedPrometheus="true"),
    }


CASES = [(c.key, None, c.effects) for c in CHANGES] + [(c.key, when, e) for c in CHANGES for when, e in c.cases]


@pytest.fixture(scope="module")
def pem(tmp_path_factory) -> dict[str, str]:
    certificate, key = self_signed(tmp_path_factory.mktemp("tls"))
    return {"certificate": certificate, "key": key}


def test_every_aws_setting_has_one_row():
    assert [c.key for c in CHANGES] == list(BY_KEY), "one row a key"
    assert set(BY_KEY) == {r.key for r in rows("aws")} - {"platform", "preset"}, \
        "platform and preset pick what the stack is, not a change to it"


@pytest.mark.parametrize(("key", "when", "expected"), CASES, ids=[f"{k}-{w}" if w else k for k, w, _ in CASES])
def test_the_program_does_what_the_change_table_says(pem, key, when, expected):
    base, base_secrets, change, secrets = examples(pem)[(key, when) if when else key]
    assert effects(base, change, secrets, base_secrets) == set(expected)


def test_the_aws_docs_table_is_generated_from_the_change_table(pem):
    text = (PROJECT_ROOT / "docs" / "aws.md").read_text()
    assert text == aws_doc(text), "docs/aws.md is stale: run python -m stacks.settings.generate"
    assert set(examples(pem)) == {k for k, w, _ in CASES if not w} | {(k, w) for k, w, _ in CASES if w}


def test_no_single_change_but_replace_data_volume_makes_a_new_data_volume():
    # The head's history lives on the data volume: a change that replaces it must be asked for.
    losing = {key for key, _, found in CASES if "replaces the data volume" in found}
    assert losing == {"replaceDataVolume"}, losing
