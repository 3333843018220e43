"""Grafana's admin password, made to follow the stack's secret on both stacks. Plain data in, text out.

Grafana reads `admin_password` only when its database is created: after a rotation the new value would
reach the mounted file and nothing else. This script runs before each Grafana start (an init container on
Kubernetes, the Compose service's entrypoint on EC2) and, when the mounted password differs from the one it
last applied, sets it with Grafana's own `grafana cli admin reset-admin-password --password-from-stdin`
(https://grafana.com/docs/grafana/latest/administration/cli/). A password changed in Grafana's UI stays
until the stack's changes again. What it last applied is kept beside the database as a SHA-256 of Grafana's
secret key and the password: the key is not on the volume, so a copy of the volume gives no faster way to
guess the password than grafana.db's own salted hash.
"""

from __future__ import annotations

from components.constants import GRAFANA_ADMIN_PASSWORD_FILE, GRAFANA_SECRET_KEY_FILE

MARKER = "admin-password.applied"  # in Grafana's data directory (GF_PATHS_DATA)
# The grafana/grafana image's entrypoint (packaging/docker/Dockerfile: ENTRYPOINT ["/run.sh"]); it sets no
# variable the script needs: GF_PATHS_HOME, GF_PATHS_CONFIG and GF_PATHS_DATA are the image's ENV lines.
IMAGE_ENTRYPOINT = "/run.sh"


def sync_script() -> str:
    """POSIX sh for the Grafana image: exits 0 when the password in the database is the mounted one."""
    return f"""set -eu
password={GRAFANA_ADMIN_PASSWORD_FILE}
marker="$GF_PATHS_DATA/{MARKER}"
wanted=$(cat {GRAFANA_SECRET_KEY_FILE} "$password" | sha256sum | cut -d' ' -f1)
if [ ! -s "$GF_PATHS_DATA/grafana.db" ]; then
  # No database yet: Grafana creates the admin with this password as it starts.
  echo "$wanted" > "$marker"
  exit 0
fi
if [ "$(cat "$marker" 2>/dev/null || true)" = "$wanted" ]; then
  exit 0
fi
echo "the admin password changed: setting it in Grafana's database"
grafana cli --homepath "$GF_PATHS_HOME" --config "$GF_PATHS_CONFIG" \\
  admin reset-admin-password --password-from-stdin < "$password"
echo "$wanted" > "$marker"
"""


def compose_entrypoint() -> list[str]:
    """The Compose service's entrypoint: the sync, then the image's own entrypoint."""
    # $$: Compose's escape for a literal $ (it interpolates the file).
    return ["sh", "-c", f"{sync_script()}exec {IMAGE_ENTRYPOINT}".replace("$", "$$")]
