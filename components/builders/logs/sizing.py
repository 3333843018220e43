"""Loki's share of the disk: Ray's own log output per node, kept for the retention (no Pulumi here).

An idle Ray 2.60 head (raylet, GCS, dashboard, autoscaler monitor) wrote 2,976,816 bytes of log files an
hour (measured over 5 minutes after its first minute; debug_state.txt, which Ray rewrites in place, and
the event streams the collector leaves out aside). A worker writes less (no GCS, dashboard or monitor), and
a job's own output comes on top: that one is the user's to plan. Loki compresses its chunks; the plan counts
the bytes as written, an upper bound for Ray's own logs.
"""

from __future__ import annotations

import math

from components.builders.sizing import VOLUME_FILL, seconds

RAY_LOG_BYTES_PER_NODE_HOUR = 3_000_000


def loki_disk_gib(ray_nodes: int, retention: str) -> int:
    """GiB of the head's data volume Loki's retention takes at most, the volume filled to VOLUME_FILL."""
    written = ray_nodes * RAY_LOG_BYTES_PER_NODE_HOUR * seconds(retention) / 3600
    return math.ceil(written / VOLUME_FILL / 2**30)
