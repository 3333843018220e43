"""Applies the head's monitoring configuration from S3 and SSM, in place (runs on the head).

    python3 apply_config.py /opt/ray-monitoring/boot.json [--root DIR]

The boot script runs it once; a systemd timer runs it every minute after. Each run grows the data
volume's filesystem when EBS grew the device, writes .env anew when the head's public address
changed (a stop/start without an Elastic IP), and reads the manifest object (one S3 GET); when it is
the one applied last, it stops there. Otherwise it writes
every file whose sha256 differs (S3 objects, checked against the manifest) and every secret whose
value differs (SSM SecureStrings), with the owner and mode the manifest names, then runs exactly the
reloads those files need:

    compose              docker compose up -d: Compose recreates only the services whose spec changed
    prometheus           SIGHUP through Compose (no HTTP lifecycle API, so no /-/quit to expose)
    alertmanager         SIGHUP through Compose
    grafana-tls          SIGHUP through Compose (nginx rereads its configuration, certificate and key)
    grafana-datasources  Grafana's provisioning reload API (admin, on 127.0.0.1)
    grafana-dashboards   Grafana's provisioning reload API
    grafana-restart      docker compose restart grafana (grafana.ini is read at start only)
    ray-head-restart     docker compose restart ray-head (its start command reads RAY_PROMETHEUS_HEADERS)
    log-collector-restart  docker compose restart log-collector (it reads the log store's header at start)

A reload that fails is kept pending in the state file and retried on the next run, so a change is
never half-applied; a download whose sha256 differs from the manifest (objects still being written)
stops the run before anything is written. A manifest is applied only when its signature (HMAC-SHA256
with the key in the SecureString boot.json names) verifies and every path it names lies under the
head's own trees, owned by root or one of its services, with no world-writable or set-id mode:
write access to the bucket alone does not reach the head.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import yaml

IMDS = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254").rstrip("/")
# The order reloads run in: Compose first (it may recreate what a signal would reach).
RELOADS = ("compose", "grafana-restart", "ray-head-restart", "log-collector-restart", "prometheus", "alertmanager",
           "grafana-tls", "grafana-datasources", "grafana-dashboards")
SIGNALLED = ("prometheus", "alertmanager", "grafana-tls")  # reloads named after the service they signal


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def current(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def write(path: Path, data: bytes, mode: str, uid: int, gid: int) -> None:
    """Atomically (rename in the same directory): a service never reads half a file. Directory
    bind mounts see the new file; that is why no single file is bind-mounted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, int(mode, 8))
        os.write(handle, data)
        os.fsync(handle)
        os.close(handle)
        os.chown(temporary, uid, gid)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def services(compose_text: bytes | None) -> dict[str, object]:
    return (yaml.safe_load(compose_text) or {}).get("services", {}) if compose_text else {}


def public_address() -> str | None:
    """The head's public DNS name, else its public IPv4 (a VPC without DNS hostnames has no name)."""
    request = urllib.request.Request(f"{IMDS}/latest/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (instance metadata)
        token = response.read().decode()
    for item in ("public-hostname", "public-ipv4"):
        request = urllib.request.Request(f"{IMDS}/latest/meta-data/{item}", headers={"X-aws-ec2-metadata-token": token})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                address = response.read().decode().strip()
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise
            continue
        if address:
            return str(address)
    return None


def env_file(iframe: dict[str, Any]) -> bytes:
    """The head's .env: values known only on the instance (its public address)."""
    host = iframe["host"]
    if not host:
        address = public_address() if iframe["public"] else "localhost"
        if address is None:
            print("the head has no public address: the Ray Dashboard embeds Grafana at localhost (the tunnel's)",
                  file=sys.stderr)
        host = f"http://{address or 'localhost'}:{iframe['port']}"
    return f"RAY_GRAFANA_IFRAME_HOST={host}\n".encode()


def ext4_bytes(device: str) -> int:
    """The size of the ext4 filesystem on `device` (its superblock's block count x block size)."""
    header = subprocess.run(["dumpe2fs", "-h", device], check=True, capture_output=True, text=True, timeout=60)
    fields = dict(line.split(":", 1) for line in header.stdout.splitlines() if ":" in line)
    return int(fields["Block count"]) * int(fields["Block size"])


def device_bytes(device: str) -> int:
    path = Path(device)
    if path.is_block_device():
        return int(subprocess.run(["blockdev", "--getsize64", device], check=True, capture_output=True,
                                  text=True, timeout=60).stdout)
    return path.stat().st_size  # an image file


# `up` pulls what is missing: a GPU head's first pull of the -gpu Ray image (several GB) outlasts 10 minutes
# on a slow link; the oneshot apply service itself has no start timeout (systemd.service(5)).
COMPOSE_UP_TIMEOUT = 3600
GROW_THRESHOLD = 64 * 2**20  # EBS grows by whole GiB; less is the filesystem's own rounding


def data_mounted(spec: dict[str, Any]) -> bool:
    """The data volume is mounted, or is mounted now that it is attached: nothing may start before, or
    Prometheus and Grafana would write their data onto the root disk."""
    return subprocess.run(spec["mount_data"], check=False, timeout=300).returncode == 0


def grow_filesystem(root: Path, spec: dict[str, Any]) -> str | None:
    """resize2fs (online, while mounted) when EBS grew the data volume past its filesystem."""
    device_file = root / spec["data_device_file"].lstrip("/")
    if not device_file.is_file():
        return None
    device = device_file.read_text().strip()  # the filesystem's by-uuid name: stable across boots
    if not Path(device).exists():
        return f"{device} is not there: the data filesystem is not grown"
    before = ext4_bytes(device)
    if device_bytes(device) - before < GROW_THRESHOLD:
        return None
    subprocess.run(["resize2fs", device], check=True, capture_output=True, timeout=600)
    return f"grew the data filesystem from {before / 2**30:.1f} GiB to {ext4_bytes(device) / 2**30:.1f} GiB"


class Head:
    """The head's services, as the reloads reach them."""

    def __init__(self, spec: dict[str, Any], root: Path):
        self.base = spec["base"]
        self.grafana_url = spec["grafana_url"]
        self.password_file = root / spec["grafana_password_file"].lstrip("/")

    def compose(self, *args: str, timeout: int = 600) -> None:
        subprocess.run(["docker", "compose", "--project-directory", self.base, "-f", f"{self.base}/compose.yaml",
                        *args], check=True, timeout=timeout)

    def grafana(self, path: str) -> None:
        credentials = base64.b64encode(b"admin:" + self.password_file.read_bytes().strip()).decode()
        request = urllib.request.Request(f"{self.grafana_url}{path}", method="POST", data=b"",
                                         headers={"Authorization": f"Basic {credentials}"})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (127.0.0.1)
            response.read()


class Refused(RuntimeError):
    """The manifest is not the deployer's, or names what the head must not write."""


def verified_manifest(manifest_object: dict[str, Any], spec: dict[str, Any], ssm: Any) -> dict[str, Any]:
    body = manifest_object["Body"].read()
    key = ssm.get_parameter(Name=spec["signing_key_parameter"], WithDecryption=True)["Parameter"]["Value"]
    signature = manifest_object.get("Metadata", {}).get("signature", "")
    if not hmac.compare_digest(signature, hmac.new(key.encode(), body, hashlib.sha256).hexdigest()):
        raise Refused(f"s3://{spec['bucket']}/{spec['manifest_key']}: its signature does not verify; refusing it "
                      "(pulumi up signs every manifest it writes)")
    manifest: dict[str, Any] = json.loads(body)
    for entry in [*manifest["files"], *manifest["secrets"], *manifest["directories"], manifest["env_file"]]:
        check_entry(entry, spec)
    return manifest


def check_entry(entry: dict[str, Any], spec: dict[str, Any]) -> None:
    path, uid, mode = entry["path"], entry["uid"], int(entry["mode"], 8)
    normal = os.path.normpath(path)
    if normal != path or not any(normal.startswith(f"{tree}/") for tree in spec["allowed_roots"]):
        raise Refused(f"the manifest names {path!r}, outside {', '.join(spec['allowed_roots'])}; refusing it")
    if uid not in spec["allowed_uids"]:
        raise Refused(f"the manifest gives {path} to uid {uid}, not root or one of the head's services; refusing it")
    if mode & ~0o775:
        raise Refused(f"the manifest gives {path} mode {entry['mode']} (world-writable or set-id); refusing it")
    if entry.get("reload", RELOADS[0]) not in RELOADS:
        raise Refused(f"the manifest asks {path} for the unknown reload {entry['reload']!r}; refusing it")


def apply(spec: dict[str, Any], root: Path, s3: Any, ssm: Any, head: Head) -> list[str] | None:
    """One run: None when the manifest is the one applied last, else the reloads it ran."""
    state_path = root / spec["state"].lstrip("/")
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    manifest_object = s3.get_object(Bucket=spec["bucket"], Key=spec["manifest_key"])
    etag = manifest_object["ETag"]
    manifest = verified_manifest(manifest_object, spec, ssm)
    # Every manifest `pulumi up` writes has a higher serial: an older one, signed but replayed by whoever may
    # write the bucket (a downgrade, to before token authentication say), is refused.
    serial, serial_file = int(manifest.get("serial", 0)), root / spec["serial_file"].lstrip("/")
    applied = max(int(state.get("serial", 0)), int(current(serial_file) or b"0"))
    if serial < applied:
        raise Refused(f"s3://{spec['bucket']}/{spec['manifest_key']} has serial {serial}, older than the "
                      f"{applied} applied: a replayed manifest; refusing it (pulumi up writes the current one)")

    def on_host(path: str) -> Path:
        return root / path.lstrip("/")

    env_path = on_host(manifest["env_file"]["path"])
    env = env_file(manifest["iframe"])  # every run: the address may change with no new manifest
    if etag == state.get("etag") and not state.get("pending") and current(env_path) == env:
        return None

    # Fetch and check everything first: nothing is written unless every object matches the manifest.
    writes: list[tuple[Path, bytes, dict[str, Any]]] = []
    for entry in manifest["files"]:
        if sha256(current(on_host(entry["path"])) or b"") == entry["sha256"]:
            continue
        data = s3.get_object(Bucket=spec["bucket"], Key=entry["key"])["Body"].read()
        if sha256(data) != entry["sha256"]:
            raise RuntimeError(f"s3://{spec['bucket']}/{entry['key']} does not match the manifest yet; "
                               "retrying on the next run")
        writes.append((on_host(entry["path"]), data, entry))
    for entry in manifest["secrets"]:
        # The version the signed manifest names, not the latest: whoever may write one parameter cannot
        # change the head without a manifest the deployer signed.
        value = ssm.get_parameter(Name=f"{entry['parameter']}:{entry['version']}",
                                  WithDecryption=True)["Parameter"]["Value"].encode()
        if current(on_host(entry["path"])) != value:
            writes.append((on_host(entry["path"]), value, entry))
    if current(env_path) != env:
        writes.append((env_path, env, manifest["env_file"]))

    for directory in manifest["directories"]:
        path = on_host(directory["path"])
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, directory["uid"], directory["uid"])
        path.chmod(int(directory["mode"], 8))
    pending = set(state.get("pending", []))
    compose_path = on_host(f"{spec['base']}/compose.yaml")
    before = services(current(compose_path))
    for path, data, entry in writes:
        write(path, data, entry["mode"], entry["uid"], entry["uid"])
        pending.add(entry["reload"])
    kept = {entry["path"] for entry in manifest["files"]}
    for gone in sorted(set(state.get("files", {})) - kept):  # e.g. a dashboard no longer deployed
        on_host(gone).unlink(missing_ok=True)
        pending.add(state["files"][gone])
    state.update(etag=None, pending=sorted(pending), files={e["path"]: e["reload"] for e in manifest["files"]},
                 serial=max(serial, applied))
    write(serial_file, str(state["serial"]).encode(), "0644", 0, 0)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps(state))  # the pending reloads survive a failure below

    done = []
    recreated: set[str] = set()
    if "compose" in pending:
        after = services(current(compose_path))
        recreated = {name for name, service in after.items() if before.get(name) != service}
        if any(path == env_path for path, _, _ in writes):  # .env feeds the services that interpolate it
            recreated |= {name for name, service in after.items() if "${" in json.dumps(service)}
        head.compose("up", "-d", "--remove-orphans", timeout=COMPOSE_UP_TIMEOUT)
        done.append("compose up -d" + (f" (recreates {', '.join(sorted(recreated))})" if recreated else ""))
    for reload in (r for r in RELOADS if r in pending and r != "compose"):
        if reload in SIGNALLED and reload not in recreated:
            head.compose("kill", "-s", "SIGHUP", reload)
            done.append(f"SIGHUP {reload}")
        elif reload.endswith("-restart") and not reload.startswith("grafana"):
            service = reload.removesuffix("-restart")
            if service not in recreated:
                head.compose("restart", service)
                done.append(f"restart {service}")
        elif reload.startswith("grafana") and "grafana" not in recreated:
            if reload == "grafana-restart":
                head.compose("restart", "grafana")
                recreated.add("grafana")  # a restarted Grafana provisions everything anew
                done.append("restart grafana")
            else:
                head.grafana(f"/api/admin/provisioning/{reload.split('-')[1]}/reload")
                done.append(f"reload {reload}")
    state.update(etag=etag, pending=[])
    state_path.write_text(json.dumps(state))
    return done


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    root = Path(argv[argv.index("--root") + 1]) if "--root" in argv else Path("/")
    if not data_mounted(spec):
        print("the data volume is not mounted: nothing applied until it is", file=sys.stderr)
        return 1
    grown = grow_filesystem(root, spec)
    if grown:
        print(grown)
    session = boto3.session.Session(region_name=spec["region"])
    done = apply(spec, root, session.client("s3"), session.client("ssm"), Head(spec, root))
    if done is not None:  # the journal's record of each change
        print(f"applied {spec['manifest_key']}: " + ("; ".join(done) or "no reload needed"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
