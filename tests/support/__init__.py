"""Helpers the tests import by name (`from support.stacks import run_stack`). The conftest files
hold fixtures only."""
