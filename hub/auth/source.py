"""The address a login comes from, as the login throttle keys it.

The peer address, or, when the peer is one of ``access.trusted_proxies``, the nearest
X-Forwarded-For hop that is not a trusted proxy (read right to left: a client can write
anything at the left end). IPv6 sources are keyed by their /64, which one host can own whole.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ip(text: str | None) -> IPAddress | None:
    try:
        addr = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _key(addr: IPAddress) -> str:
    if isinstance(addr, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)


def login_source(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The throttle key of a request from ``peer`` carrying these X-Forwarded-For headers."""
    addr = _ip(peer)
    if addr is None:  # not an IP peer (a Unix socket, an in-process test client)
        return (peer or "unknown")[:100]
    hops = [h for header in forwarded_for for h in header.split(",") if h.strip()]
    while hops and any(addr in net for net in trusted):
        nearer = _ip(hops.pop())
        if nearer is None:  # garbage from beyond the proxy: stop at the last hop we trust
            break
        addr = nearer
    return _key(addr)
