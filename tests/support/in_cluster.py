"""Processes as a pod of the cluster runs them: Prometheus in-cluster as a ServiceAccount (in a private mount
namespace, so nothing on this machine changes), and a real Ray node at a pod's address (its own network
namespace, support/pod_network.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from components.builders.ray_cluster import SERVICE_ACCOUNT_DIR
from support.autoscaler import service_account_token
from support.control_plane import ControlPlane
from support.live import VENV_BIN, Prometheus
from support.loopback import free_port
from support.pod_network import PodNetwork

# In a private mount namespace: the account's token and CA where a pod has them and client-go's
# rest.InClusterConfig reads them (on tmpfs over /run: /var/run links there on Debian), and the pod's files under
# /etc, each on a tmpfs only this Prometheus sees.
assert SERVICE_ACCOUNT_DIR.startswith("/var/run/")
IN_CLUSTER = f"""set -eu
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p {SERVICE_ACCOUNT_DIR}
cp "$STAGE/token" "$STAGE/ca.crt" {SERVICE_ACCOUNT_DIR}/
mount -t tmpfs -o mode=0755 tmpfs /etc
cp -a "$STAGE/etc/." /etc/
exec "$@"
"""


def in_cluster_prometheus(plane: ControlPlane, stage: Path, account: str, namespace: str, files: dict[str, str],
                          config: str) -> Prometheus:
    """Prometheus as `account` would run it in a pod: `files` (path under /etc -> text) and the account's token
    and the cluster's CA where a pod has them; `config`: the configuration's path under /etc."""
    (stage / "etc").mkdir(parents=True)
    for name in ("hosts", "nsswitch.conf", "resolv.conf"):  # what Go's resolver reads, for localhost
        if Path("/etc", name).exists():
            shutil.copy2(Path("/etc", name), stage / "etc" / name)
    for name, text in files.items():
        (stage / "etc" / name).parent.mkdir(parents=True, exist_ok=True)
        (stage / "etc" / name).write_text(text)
    (stage / "token").write_text(service_account_token(plane, namespace, account, seconds=7200))
    shutil.copy2(plane.workdir / "certs" / "apiserver.crt", stage / "ca.crt")
    prometheus = Prometheus(plane.processes, stage / "prometheus", Path("/etc", config), port=free_port())
    prometheus.start(60, wrapper=("unshare", "--mount", "--propagation", "private", "sh", "-c", IN_CLUSTER, "sh"),
                     env={"PATH": "/usr/bin:/bin", "STAGE": str(stage),
                          "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(plane.port)})
    return prometheus


def start_ray(network: PodNetwork, address: str, env: dict[str, str], head: str | None = None) -> None:
    """A real Ray node at the pod's address: the head, or a worker joining `head`."""
    role = ["--head", "--port=6379", "--dashboard-host=0.0.0.0", "--num-cpus=1"] if head is None else \
        [f"--address={head}:6379", "--num-cpus=1"]
    network.run_in(address, [str(VENV_BIN / "ray"), "start", *role, f"--node-ip-address={address}",
                             "--metrics-export-port=8080", "--disable-usage-stats"], env)
