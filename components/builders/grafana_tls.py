"""The TLS terminator in front of Grafana on EC2 (nginx): browsers reach Grafana over HTTPS with the
user's certificate, while Grafana keeps plain HTTP on the head, where Ray's dashboard checks it on
127.0.0.1 with certificate verification (a certificate for the public name would fail there) and the
apply script calls its reload API. Plain data in, text out."""

from __future__ import annotations

from components.constants import GRAFANA_PORT, GRAFANA_TLS_PORT

CERTIFICATE, KEY = "tls.crt", "tls.key"
TLS_DIR = "/etc/nginx/tls"  # where the container sees GRAFANA_TLS_SECRETS
CONF_FILE = "grafana-tls.conf"


def nginx_conf(tls_dir: str = TLS_DIR) -> str:
    """A conf.d file (nginx includes it inside `http {}`)."""
    return f"""\
# Grafana's live updates use WebSockets.
map $http_upgrade $connection_upgrade {{
    default upgrade;
    ''      close;
}}

server {{
    listen {GRAFANA_TLS_PORT} ssl;
    ssl_certificate {tls_dir}/{CERTIFICATE};
    ssl_certificate_key {tls_dir}/{KEY};
    ssl_protocols TLSv1.2 TLSv1.3;
    server_tokens off;
    # Browsers that once reached Grafana here never fall back to plain HTTP for a year.
    add_header Strict-Transport-Security "max-age=31536000" always;

    location / {{
        proxy_pass http://127.0.0.1:{GRAFANA_PORT};
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
    }}
}}
"""
