"""Everything the tests take from Pulumi's private modules, in one place.

The Python SDK has no public API for what a test of a whole program needs: how a secret is marked
on the wire (`rpc._special_sig_key`), and running a program's coroutine to the end outside the
CLI (`_sync_await`). A Pulumi upgrade that moves them breaks this module alone.
"""

from __future__ import annotations

from typing import Any, Callable

from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _sync_await

SECRET_SIG = rpc._special_sig_key  # "4dabf18193072939515e22adb298388d"
SECRET_VALUE = rpc._special_secret_sig

__all__ = ["SECRET_SIG", "SECRET_VALUE", "hide", "integers", "is_secret", "reveal", "run_to_end"]


def run_to_end(awaitable: Any) -> Any:
    """Run a coroutine to completion on Pulumi's own event loop, as the language host does."""
    return _sync_await(awaitable)


def integers(value: Any) -> Any:
    """Protobuf Structs carry every number as a double; Kubernetes and AWS fields are integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integers(v) for v in value]
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def _map_secrets(value: Any, on_secret: Callable[[dict], Any]) -> Any:
    """`value` with every secret wrapper in it replaced by `on_secret(wrapper)`, recursively."""
    if is_secret(value):
        return on_secret(value)
    if isinstance(value, dict):
        return {k: _map_secrets(v, on_secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_secrets(v, on_secret) for v in value]
    return value


def reveal(value: Any) -> Any:
    """The plain value inside secret wrappers, recursively."""
    return _map_secrets(value, lambda secret: reveal(secret["value"]))


def hide(value: Any) -> Any:
    """What anyone reading a resource's inputs (or the stack's outputs) sees: each secret as "<secret>"."""
    return _map_secrets(value, lambda secret: "<secret>")


