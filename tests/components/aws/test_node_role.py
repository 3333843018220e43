"""A node role alone, under mocks: Session Manager plus exactly the parameters it may read."""

from __future__ import annotations

import json

from components.aws.node_role import NodeRole, NodeRoleArgs
from support.stacks import run


def test_node_role_alone():
    result = run("unit", {}, lambda: NodeRole("role", NodeRoleArgs("c", ["arn:p"], [])))
    assert result.error is None, result.error
    policy = json.loads(result.one("aws:iam/rolePolicy:RolePolicy", "role-policy").plain["policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["SessionManager", "ReadParameters"]
