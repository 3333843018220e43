"""cloud-init user-data for the EC2 nodes: plain data in, `#cloud-config` text out (no Pulumi here).

No secret is ever in user-data: the head fetches the Grafana password (and Alertmanager's
configuration, which holds the receivers' credentials) from SSM with its role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import yaml

from components.builders.alert_rules import FILE_NAME as ALERT_RULES_FILE
from components.builders.alertmanager_config import FILE_NAME as ALERTMANAGER_FILE
from components.builders.compose import ALERTMANAGER_SECRETS, BASE, ENV_FILE, RAY_TMP
from components.constants import GRAFANA_PORT, GRAFANA_UID
from components.constants import PROMETHEUS_UID as ALERTMANAGER_UID  # "nobody" in prom/alertmanager too

# Ubuntu's own packages: no vendor repositories or install scripts at boot.
PACKAGES = ["docker.io", "docker-compose-v2"]
RAY_UID = 1000  # user "ray" in the rayproject/ray image
EC2_USER_DATA_LIMIT = 16 * 1024

FETCH_SCRIPT = '''\
"""Fetch the secrets (SSM SecureStrings) and the dashboards (S3) with the instance role."""
import json
import os
import pathlib
import sys

import boto3

spec = json.loads(pathlib.Path(sys.argv[1]).read_text())
ssm = boto3.client("ssm", region_name=spec["region"])
for item in spec["secrets"]:
    secret = pathlib.Path(item["file"])
    value = ssm.get_parameter(Name=item["parameter"], WithDecryption=True)["Parameter"]["Value"]
    secret.touch(mode=0o400)
    secret.write_text(value)
    os.chown(secret, item["uid"], item["uid"])
    secret.chmod(0o400)
s3 = boto3.client("s3", region_name=spec["region"])
target = pathlib.Path(spec["dashboards_dir"])
for key in spec["dashboard_keys"]:
    s3.download_file(spec["bucket"], key, str(target / key.rsplit("/", 1)[1]))
'''


@dataclass(frozen=True)
class HeadBoot:
    region: str
    password_parameter: str  # SSM parameter name, not its value
    bucket: str
    dashboard_keys: tuple[str, ...]
    iframe_host: str | None  # fixed URL, or None: the head's public name if `public`, else localhost
    public: bool
    alertmanager_parameter: str | None = None  # SSM parameter holding alertmanager.yml, when deployed


def start_script(boot: HeadBoot) -> str:
    if boot.iframe_host:
        iframe = f'iframe_host="{boot.iframe_host}"'
    elif boot.public:
        iframe = "\n".join([
            'token=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" '
            "http://169.254.169.254/latest/api/token)",
            'public_name=$(curl -sf -H "X-aws-ec2-metadata-token: ${token}" '
            "http://169.254.169.254/latest/meta-data/public-hostname)",
            f'iframe_host="http://${{public_name}}:{GRAFANA_PORT}"',
        ])
    else:
        iframe = f'iframe_host="http://localhost:{GRAFANA_PORT}"'
    return "\n".join([
        "#!/usr/bin/env bash",
        "# Boot: directories, the password and dashboards, the browser's Grafana URL, then Compose.",
        "set -euo pipefail",
        f"install -d -m 0755 -o {RAY_UID} -g 100 {RAY_TMP}",
        f"install -d -m 0750 -o {GRAFANA_UID} -g {GRAFANA_UID} {BASE}/secrets",
        f"install -d -m 0755 {BASE}/dashboards",
        *([f"install -d -m 0750 -o {ALERTMANAGER_UID} -g {ALERTMANAGER_UID} {ALERTMANAGER_SECRETS}"]
          if boot.alertmanager_parameter else []),
        f"python3 {BASE}/bin/fetch.py {BASE}/fetch.json",
        iframe,
        f'printf "RAY_GRAFANA_IFRAME_HOST=%s\\n" "${{iframe_host}}" > {ENV_FILE}',
        f"docker compose --project-directory {BASE} -f {BASE}/compose.yaml up -d",
        "",
    ])


def worker_start_script() -> str:
    return "\n".join([
        "#!/usr/bin/env bash",
        "set -euo pipefail",
        f"install -d -m 0755 -o {RAY_UID} -g 100 {RAY_TMP}",
        f"docker compose --project-directory {BASE} -f {BASE}/compose.yaml up -d",
        "",
    ])


def _file(path: str, content: str, permissions: str = "0644") -> dict:
    return {"path": path, "content": content, "permissions": permissions, "owner": "root:root"}


def _cloud_config(packages: list[str], files: list[dict], start: str) -> str:
    config = {
        "package_update": True,
        "packages": packages,
        "write_files": files + [_file(f"{BASE}/bin/start.sh", start, "0755")],
        "runcmd": [["bash", f"{BASE}/bin/start.sh"]],
    }
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, width=1000)


def head_user_data(boot: HeadBoot, compose_yaml: str, prometheus_yml: str, alert_rules_yml: str,
                   grafana_ini: str, datasources_yaml: str, dashboard_providers_yaml: str) -> str:
    secrets = [{"parameter": boot.password_parameter, "file": f"{BASE}/secrets/admin-password", "uid": GRAFANA_UID}]
    if boot.alertmanager_parameter:
        secrets.append({"parameter": boot.alertmanager_parameter, "file": f"{ALERTMANAGER_SECRETS}/{ALERTMANAGER_FILE}",
                        "uid": ALERTMANAGER_UID})
    fetch = {
        "region": boot.region,
        "secrets": secrets,
        "bucket": boot.bucket,
        "dashboard_keys": list(boot.dashboard_keys),
        "dashboards_dir": f"{BASE}/dashboards",
    }
    files = [
        _file(f"{BASE}/compose.yaml", compose_yaml),
        _file(f"{BASE}/prometheus/prometheus.yml", prometheus_yml),
        _file(f"{BASE}/prometheus/{ALERT_RULES_FILE}", alert_rules_yml),
        _file(f"{BASE}/grafana/grafana.ini", grafana_ini),
        _file(f"{BASE}/grafana/provisioning/datasources/datasources.yaml", datasources_yaml),
        _file(f"{BASE}/grafana/provisioning/dashboards/dashboards.yaml", dashboard_providers_yaml),
        _file(f"{BASE}/bin/fetch.py", FETCH_SCRIPT),
        _file(f"{BASE}/fetch.json", json.dumps(fetch, indent=1)),
    ]
    return _cloud_config(PACKAGES + ["python3-boto3"], files, start_script(boot))


def worker_user_data(compose_yaml: str) -> str:
    return _cloud_config(PACKAGES, [_file(f"{BASE}/compose.yaml", compose_yaml)], worker_start_script())
