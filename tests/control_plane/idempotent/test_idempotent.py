"""Scenario 2, idempotent: after the first `pulumi up`, `pulumi preview` and a second `pulumi up` of the same
config change nothing (no create, update, replace or delete): no surprise on a second `pulumi up`."""

from __future__ import annotations


def test_a_second_up_changes_nothing(deployed):
    preview = deployed.project.run("preview")
    assert preview.error == "", preview.error
    assert preview.changed() == {}, preview.changed()
    again = deployed.project.run("up")
    assert again.error == "", again.error
    assert set(again.changes) == {"same"}, again.changes
    assert again.changed() == {}, again.changed()
    assert again.changes["same"] == sum(deployed.first_up.changes.values())
