"""CIDR lists a setting opens something to: one check for every such setting."""

from __future__ import annotations

import ipaddress

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def covers_the_internet(networks: list[IpNetwork]) -> bool:
    """Whether the networks of one family or the other leave no public (globally routed) address out:
    0.0.0.0/1 with 128.0.0.0/1 is the whole internet too."""
    for everything in (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")):
        left: list[IpNetwork] = [everything]
        for network in (n for n in networks if n.version == everything.version):
            left = [part for rest in left for part in _without(rest, network)]
        # A remainder is either wholly special-purpose (private, reserved: not global) or holds public addresses.
        if not any(rest.is_global for rest in left):
            return True
    return False


def _without(rest: IpNetwork, network: IpNetwork) -> list[IpNetwork]:
    if rest.subnet_of(network):  # type: ignore[arg-type]
        return []
    if network.subnet_of(rest):  # type: ignore[arg-type]
        return list(rest.address_exclude(network))  # type: ignore[arg-type]
    return [rest]
