"""core.net.free_port: a port both protocols can bind, which the kernel will not hand out."""

from __future__ import annotations

import socket

import pytest

from core.net import _ephemeral, free_port


def test_a_free_port_binds_for_tcp_and_udp_and_lies_outside_the_ephemeral_range() -> None:
    low, high = _ephemeral()
    for _ in range(20):
        port = free_port()
        assert not low <= port <= high
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", port))
            udp.bind(("127.0.0.1", port))


def test_a_port_taken_for_udp_alone_is_not_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's cascade port was once picked free for TCP while a UDP socket held it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", free_port()))
        taken = udp.getsockname()[1]
        monkeypatch.setattr("core.net._candidates", lambda: range(taken, taken + 1))
        with pytest.raises(OSError, match="no port free"):
            free_port()


def test_a_port_is_never_handed_out_twice_before_it_is_bound() -> None:
    """Callers bind later (often in a child process): two calls in between must differ."""
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
