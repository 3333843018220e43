"""grafana.ini for both stacks: embedding allowed, anonymous viewers, the admin password from a file.
Plain data in, text out."""

from __future__ import annotations

from components.constants import GRAFANA_ADMIN_PASSWORD_FILE, GRAFANA_PORT, GRAFANA_SECRET_KEY_FILE


def grafana_ini(admin_password_file: str = GRAFANA_ADMIN_PASSWORD_FILE, sigv4: bool = False,
                https: bool = False) -> str:
    """`sigv4`: the datasource signs its queries with Grafana's AWS identity (Amazon Managed Prometheus).
    `https`: browsers reach Grafana only over HTTPS (the TLS terminator on EC2): its session cookie is sent
    over HTTPS only (a browser also treats http://localhost, the tunnel, as secure)."""
    sections = {
        "server": {"http_port": str(GRAFANA_PORT)},
        "security": {
            "admin_user": "admin",
            # Read from a mounted secret file; the password never appears in this file.
            "admin_password": f"$__file{{{admin_password_file}}}",
            # Generated per stack: Grafana's built-in default key is public, and with it anyone holding a
            # copy of grafana.db (a retained volume, a snapshot) could decrypt the datasource credentials.
            "secret_key": f"$__file{{{GRAFANA_SECRET_KEY_FILE}}}",
            # The Ray Dashboard embeds Grafana panels in iframes.
            "allow_embedding": "true",
        },
        # Ray Dashboard users see charts without a login, read-only.
        "auth.anonymous": {"enabled": "true", "org_name": "Main Org.", "org_role": "Viewer"},
        "users": {"allow_sign_up": "false", "allow_org_create": "false"},
        # No phoning home.
        "analytics": {
            "reporting_enabled": "false",
            "check_for_updates": "false",
            "check_for_plugin_updates": "false",
            "feedback_links_enabled": "false",
        },
        "news": {"news_feed_enabled": "false"},
        # Grafana 12 installs a list of plugins from grafana.com in the background at every start, and fetches
        # the plugin signing key from there; the image's own plugins are all the stack uses.
        "plugins": {"preinstall_disabled": "true", "public_key_retrieval_disabled": "true"},
        "log": {"mode": "console"},
    }
    if https:
        sections["security"]["cookie_secure"] = "true"
    if sigv4:
        # Grafana 12's core Prometheus datasource signs with the default AWS credential chain
        # (instance role on EC2, pod identity on EKS) only when this is on.
        sections["auth"] = {"sigv4_auth_enabled": "true"}
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines)
