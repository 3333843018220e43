"""Digests of rendered files."""

from __future__ import annotations

import hashlib


def checksum(*texts: str) -> str:
    """Stable digest of rendered files, for pod-template annotations that roll pods on change."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()
