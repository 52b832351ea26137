"""Socket helpers: a free port to listen on, and whether something listens."""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10000  #: below this sit well-known services (5432, 1883, 8554 ...)
#: Ports this process has handed out: free_port never gives one twice. A caller binds its
#: port later (often in a child process), and two calls in between drew the same port
#: (a soak's relay and its GB/T 28181 upper platform, one of which then failed to start).
_given: set[int] = set()
_given_lock = threading.Lock()


def _ephemeral() -> tuple[int, int]:
    """The ports the kernel hands out by itself (to port-0 binds and outgoing connections)."""
    try:
        low, high = (int(p) for p in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return low, high


def _candidates() -> range:
    low, high = _ephemeral()
    return range(LOWEST, low) if low - LOWEST >= 1000 else range(high + 1, 65536)


def _bindable(host: str, port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now for both TCP and UDP, outside the kernel's ephemeral range.

    A port the kernel picked for a bind to port 0 could be handed out again
    before the caller binds it: to an RTP receiver, or as an outgoing
    connection's source port. Ports below the ephemeral range are only
    ever taken by someone asking for them by number, so the choice holds.
    """
    pool = _candidates()
    for _ in range(500):
        port = random.choice(pool)
        with _given_lock:
            if port in _given:
                continue
            if _bindable(host, port, socket.SOCK_STREAM) and _bindable(host, port,
                                                                       socket.SOCK_DGRAM):
                _given.add(port)
                return port
    raise OSError(f"no port free for TCP and UDP on {host} in {pool.start}-{pool.stop - 1}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0
