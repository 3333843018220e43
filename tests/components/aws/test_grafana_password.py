"""The Grafana password alone, under mocks: an SSM SecureString named after the cluster."""

from __future__ import annotations

from components.aws.grafana_password import GrafanaPassword, GrafanaPasswordArgs
from support.stacks import run


def test_grafana_password_alone():
    result = run("unit", {}, lambda: GrafanaPassword("pw", GrafanaPasswordArgs("c")))
    assert result.error is None, result.error
    assert result.one("aws:ssm/parameter:Parameter", "pw-parameter").plain["name"] == "/c/grafana/admin-password"
