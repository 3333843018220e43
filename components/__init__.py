"""Pulumi components (one per concern) and the pure builders that render the files they deploy."""
