"""The secrets a user may set instead of letting the stack generate them (grafanaAdminPassword,
grafanaSecretKey, rayAuthToken): plain values here; components wrap them as Pulumi secrets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GivenSecrets:
    """The secrets the user set (from a vault, or shared across stacks); None: generated."""

    grafana_admin_password: str | None = None
    grafana_secret_key: str | None = None
    ray_auth_token: str | None = None
