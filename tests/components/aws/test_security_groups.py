"""The security groups alone, under mocks: access only from the listed CIDRs."""

from __future__ import annotations

from components.aws.security_groups import SecurityGroups, SecurityGroupsArgs
from support.stacks import run

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def test_security_groups_alone():
    result = run("unit", {}, lambda: SecurityGroups("sg", SecurityGroupsArgs("vpc-1", "c", ("198.51.100.0/24",))))
    assert result.error is None, result.error
    ports = {r.plain["fromPort"] for r in result.of_type(INGRESS) if r.plain.get("cidrIpv4") == "198.51.100.0/24"}
    assert ports == {3000, 9090}, "the UIs; SSH only with a key pair, the Ray Dashboard's port only when asked"
    opened = run("unit", {}, lambda: SecurityGroups("sg", SecurityGroupsArgs("vpc-1", "c", ("198.51.100.0/24",),
                                                                         ray_dashboard=True, ssh=True)))
    assert {8265, 22} <= {r.plain.get("fromPort") for r in opened.of_type(INGRESS)}
