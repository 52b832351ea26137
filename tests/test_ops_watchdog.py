"""systemd's watchdog protocol spoken by the real edge agent: READY=1 once up, WATCHDOG=1
pings at half of WATCHDOG_USEC while healthy, and none while the process is hung (SIGSTOP),
which is what makes systemd (WatchdogSec= in deploy/systemd) kill and restart it."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from devkit.fixtures.edge import site_yaml


def _messages(sock: socket.socket, seconds: float) -> list[str]:
    got, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    return got


def _wait_for(sock: socket.socket, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in m for m in _messages(sock, 0.5)):
            return
    raise AssertionError(f"no {text} within {timeout} s")


def test_edge_agent_pings_the_watchdog_only_while_running(
    tmp_path: Path, private_broker, edge_agents
) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        config = site_yaml(tmp_path / "site.yaml", private_broker.url)
        agent = edge_agents(config, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
        _wait_for(sock, "READY=1", 30)
        _wait_for(sock, "WATCHDOG=1", 5)
        assert agent.proc is not None
        os.kill(agent.proc.pid, signal.SIGSTOP)  # hung: no pings, systemd's timer runs out
        try:
            _messages(sock, 0.6)  # one already in flight may arrive
            assert not [m for m in _messages(sock, 3) if "WATCHDOG=1" in m]
        finally:
            os.kill(agent.proc.pid, signal.SIGCONT)
        _wait_for(sock, "WATCHDOG=1", 5)
        agent.stop()
        assert any("STOPPING=1" in m for m in _messages(sock, 1))
