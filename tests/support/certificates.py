"""A self-signed certificate and key for Grafana's TLS tests, made by the real openssl."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.tools import tool


def self_signed(directory: Path, name: str = "grafana.example.com") -> tuple[str, str]:
    """(certificate PEM, private key PEM) for `name`, valid for a day."""
    subprocess.run([tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={name}", "-keyout", str(directory / "key.pem"),
                    "-out", str(directory / "cert.pem")], check=True, capture_output=True, timeout=60)
    return (directory / "cert.pem").read_text(), (directory / "key.pem").read_text()
