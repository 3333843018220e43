"""The Grafana password alone, under mocks: an SSM SecureString named under the prefix it is given."""

from __future__ import annotations

from components.aws.grafana_password import GrafanaPassword, GrafanaPasswordArgs
from support.stacks import run


def test_grafana_password_alone():
    result = run("unit", {}, lambda: GrafanaPassword("pw", GrafanaPasswordArgs("c", "/ray-monitoring/unit/c")))
    assert result.error is None, result.error
    parameter = result.one("aws:ssm/parameter:Parameter", "pw-parameter").plain
    assert parameter["name"] == "/ray-monitoring/unit/c/grafana/admin-password"
