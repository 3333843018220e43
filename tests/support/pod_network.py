"""Real processes at the addresses kwok gives pods: one network namespace per pod, holding the pod's IP, so
each pod has its own port 8080 as in a real cluster (Ray's exporters bind 0.0.0.0: two Ray nodes on one
machine's loopback cannot both serve 8080). The pods' namespaces and this machine meet on a bridge inside a
namespace of its own (its own, empty netfilter: pod-to-pod traffic is not this machine's to filter); this
machine joins it by a veth with an address in the pod CIDR, so the CIDR is on-link here and nothing sent to
a pod address leaves the machine. Root only (ip netns); close() removes every namespace and link, and start()
first removes what a killed run left under the same prefix.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess

from support.live import signal_until_gone


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"ip {' '.join(args)}: {done.stderr}"


LINK_PREFIX = "rmpod"  # every namespace and link this module makes: no node has them (test_sizing leaves them out)


class PodNetwork:
    def __init__(self, cidr: str, prefix: str = LINK_PREFIX):
        network = ipaddress.ip_network(cidr)
        self.prefix, self.cidr, self.length = prefix, cidr, network.prefixlen
        self.host_address = str(network[-2])  # the last usable address: kwok hands out the first ones
        self.bridge_namespace = f"{prefix}-net"
        self.pods: dict[str, str] = {}  # pod IP -> its network namespace

    def start(self) -> PodNetwork:
        self._sweep()
        _ip("netns", "add", self.bridge_namespace)
        _ip("-n", self.bridge_namespace, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.bridge_namespace, "link", "set", "br0", "up")
        self._join(f"{self.prefix}h", None)
        _ip("addr", "add", f"{self.host_address}/{self.length}", "dev", f"{self.prefix}h")
        _ip("link", "set", f"{self.prefix}h", "up")
        return self

    def _join(self, host_end: str, pod_namespace: str | None) -> None:
        """A veth from this machine (or `pod_namespace`, as its eth0) to a port of the bridge."""
        bridge_end = f"{host_end}b"
        if pod_namespace is None:
            _ip("link", "add", host_end, "type", "veth", "peer", "name", bridge_end, "netns", self.bridge_namespace)
        else:
            _ip("link", "add", bridge_end, "type", "veth", "peer", "name", "eth0", "netns", pod_namespace)
            _ip("link", "set", bridge_end, "netns", self.bridge_namespace)
        _ip("-n", self.bridge_namespace, "link", "set", bridge_end, "master", "br0")
        _ip("-n", self.bridge_namespace, "link", "set", bridge_end, "up")

    def add_pod(self, address: str) -> str:
        """A network namespace holding `address` (a pod's IP, in the CIDR); its name."""
        assert ipaddress.ip_address(address) in ipaddress.ip_network(self.cidr), (address, self.cidr)
        namespace = f"{self.prefix}{len(self.pods)}"
        _ip("netns", "add", namespace)
        self._join(namespace, namespace)
        _ip("-n", namespace, "addr", "add", f"{address}/{self.length}", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        self.pods[address] = namespace
        return namespace

    def run_in(self, address: str, command: list[str], env: dict[str, str], timeout: float = 180) -> str:
        done = subprocess.run(["ip", "netns", "exec", self.pods[address], *command], env=env, capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, f"{' '.join(command)} in {address}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def close(self) -> None:
        """Every process left in a pod's namespace (Ray's daemons) is killed, then the namespaces and links go."""
        for namespace in self.pods.values():
            self._kill_all_in(namespace)
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", self.bridge_namespace], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", f"{self.prefix}h"], capture_output=True, timeout=30)
        self.pods.clear()

    def _sweep(self) -> None:
        """What a run killed before close() left under this prefix (its namespaces, their processes, the host's
        link): the names are this module's alone, and a leftover would refuse this run's `ip netns add`."""
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30).stdout
        ours = re.compile(rf"^{re.escape(self.prefix)}(\d+|-net)$")
        for namespace in [line.split()[0] for line in listed.splitlines() if line.split()]:
            if ours.match(namespace):
                self._kill_all_in(namespace)
                subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", f"{self.prefix}h"], capture_output=True, timeout=30)

    @staticmethod
    def _kill_all_in(namespace: str) -> None:
        def pids() -> list[int]:
            return [int(pid) for pid in subprocess.run(["ip", "netns", "pids", namespace], capture_output=True,
                                                       text=True, timeout=30).stdout.split()]

        signal_until_gone(pids)
