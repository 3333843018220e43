"""What the real Pulumi CLI reports for a value of the wrong type in a key Pulumi.yaml types (README: the CLI
refuses it before the program runs, naming that key), beside what the program reports for the rest."""

from __future__ import annotations


def test_the_cli_refuses_a_mistyped_key_before_the_program_names_the_others(cluster):
    project = cluster.project("typed", platform="kubernetes", rayNodes="ten", retentionTime="forever")
    outcome = project.run("preview")
    text = outcome.error + outcome.log
    assert "rayNodes" in text and "retentionTime" not in text, text[-3000:]  # the program never ran
    project.config.pop("rayNodes")
    outcome = project.run("preview")
    text = outcome.error + outcome.log
    assert "ray-monitoring:retentionTime = 'forever'" in text and "Fix: " in text, text[-3000:]
