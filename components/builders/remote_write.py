"""Prometheus' remote_write block, for stores beyond one Prometheus (no Pulumi here): Amazon Managed
Service for Prometheus, Mimir, Thanos Receive, Cortex, VictoriaMetrics.

Credentials are never in prometheus.yml: basic-auth passwords and bearer tokens are files Prometheus
reads (`password_file`, `credentials_file`), mounted from a secret; SigV4 signs with the instance's
or pod's own AWS identity. The queue is sized from the samples per second the sizing model expects,
so a store that is away for a while gets the backlog from the write-ahead log when it returns.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from typing import Any

AUTH_KINDS = ("none", "basic", "bearer", "sigv4")
SECRETS_DIR = "/etc/prometheus/remote-write"  # in Prometheus' container, from a secret

MAX_SAMPLES_PER_SEND = 2000  # Prometheus' default batch
SHARD_SAMPLES_PER_SECOND = 4000  # one shard: a 2,000-sample batch every ~0.5 s to a distant store
CATCH_UP = 3  # shards for 3x the live rate: the backlog after an outage drains at twice the ingest
MIN_SHARDS, MAX_SHARDS = 4, 200


@dataclass(frozen=True)
class StoreAuth:
    """How Prometheus writes to a store, or Grafana and Ray query it. The password or token itself
    is never here: it travels as a Pulumi secret to a file."""

    kind: str  # none | basic | bearer | sigv4
    username: str | None = None  # basic
    region: str | None = None  # sigv4
    role_arn: str | None = None  # sigv4: a role to assume for the store (else the node's own role signs)


@dataclass(frozen=True)
class RemoteWriteTarget:
    url: str
    auth: StoreAuth


def secret_file(index: int, auth: StoreAuth) -> str | None:
    """The file name holding target `index`'s password or token (None: the auth needs no secret)."""
    return {"basic": f"{index}-password", "bearer": f"{index}-token"}.get(auth.kind)


def queue_config(samples_per_second: float) -> dict[str, Any]:
    shards = math.ceil(samples_per_second * CATCH_UP / SHARD_SAMPLES_PER_SECOND)
    return {
        "capacity": MAX_SAMPLES_PER_SEND * 5,  # per shard: buffers ~5 batches while one is in flight
        "max_samples_per_send": MAX_SAMPLES_PER_SEND,
        "min_shards": 1,
        "max_shards": min(max(shards, MIN_SHARDS), MAX_SHARDS),
        "batch_send_deadline": "5s",
        "min_backoff": "100ms",
        # Retried until the store answers: the WAL keeps ~2 h, so an outage shorter than that loses nothing.
        "max_backoff": "10s",
        "retry_on_http_429": True,
    }


def remote_write_block(targets: tuple[RemoteWriteTarget, ...], samples_per_second: float,
                       secrets_dir: str = SECRETS_DIR) -> list[dict[str, Any]]:
    block = []
    for index, target in enumerate(targets):
        entry: dict[str, Any] = {"url": target.url, "name": f"store-{index}",
                                 "queue_config": queue_config(samples_per_second),
                                 # Ray's series only need their own labels; exemplars and metadata stay local.
                                 "send_exemplars": False}
        auth = target.auth
        if auth.kind == "basic":
            entry["basic_auth"] = {"username": auth.username,
                                   "password_file": f"{secrets_dir}/{secret_file(index, auth)}"}
        elif auth.kind == "bearer":
            entry["authorization"] = {"type": "Bearer", "credentials_file": f"{secrets_dir}/{secret_file(index, auth)}"}
        elif auth.kind == "sigv4":
            entry["sigv4"] = {"region": auth.region, **({"role_arn": auth.role_arn} if auth.role_arn else {})}
        block.append(entry)
    return block


def authorization_header(auth: StoreAuth, secret: str | None) -> str | None:
    """The static Authorization header of basic or bearer auth (RFC 7617, RFC 6750); None for none."""
    if auth.kind == "basic":
        return "Basic " + base64.b64encode(f"{auth.username}:{secret}".encode()).decode()
    if auth.kind == "bearer":
        return f"Bearer {secret}"
    if auth.kind == "none":
        return None
    raise ValueError(f"{auth.kind} auth is not a static header")


def ray_prometheus_headers(auth: StoreAuth, secret: str | None) -> str:
    """RAY_PROMETHEUS_HEADERS (JSON) for the Ray head to query a store: static headers are all Ray sends."""
    try:
        header = authorization_header(auth, secret)
    except ValueError:
        raise ValueError(f"Ray cannot query a store with {auth.kind} auth") from None
    return json.dumps({"Authorization": header} if header else {})
