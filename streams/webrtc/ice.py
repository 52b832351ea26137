"""Which host addresses WebRTC offers as ICE candidates (``streams.ice_hosts``).

aioice offers every address of every interface except 127.0.0.1 and has no
option to choose; the relay narrows (or, for 127.0.0.1, widens) that list by
replacing aioice's address lookup once per process. Entries are IP addresses
or interface names; an empty list keeps aioice's default.
"""

from __future__ import annotations

import aioice.ice
import ifaddr

_original = aioice.ice.get_host_addresses


def host_addresses(wanted: list[str], use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """The addresses among ``wanted`` (IPs or interface names) that exist here, in order."""
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            v4 = isinstance(ip.ip, str)
            if (v4 and not use_ipv4) or (not v4 and not use_ipv6):
                continue
            if address in wanted or adapter.nice_name in wanted or adapter.name in wanted:
                found.append(address)
    return found


def configure_ice_hosts(wanted: list[str]) -> None:
    """Make aioice gather only ``wanted`` host addresses (empty: its default)."""
    if not wanted:
        aioice.ice.get_host_addresses = _original
        return

    def chosen(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return host_addresses(list(wanted), use_ipv4, use_ipv6)

    aioice.ice.get_host_addresses = chosen
