"""systemd's watchdog protocol spoken by the real edge agent, relay and hub: READY=1 once
up, WATCHDOG=1 pings at half of WATCHDOG_USEC while healthy, and none while the process is
hung (SIGSTOP), which is what makes systemd (WatchdogSec= in deploy/systemd) kill and
restart it."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from core.net import free_port
from devkit.embedded.process import spawn, stop
from devkit.fixtures.edge import site_yaml
from devkit.fixtures.hubapi import SECRET
from hub.store import migrate


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


def _pings_only_while_running(sock: socket.socket, pid: int, stop: Callable[[], None]) -> None:
    """READY=1, then pings; none while SIGSTOPped; pings again after SIGCONT; STOPPING=1."""
    _wait_for(sock, "READY=1", 30)
    _wait_for(sock, "WATCHDOG=1", 5)
    os.kill(pid, signal.SIGSTOP)  # hung: no pings, systemd's timer runs out
    try:
        _messages(sock, 0.6)  # one already in flight may arrive
        assert not [m for m in _messages(sock, 3) if "WATCHDOG=1" in m]
    finally:
        os.kill(pid, signal.SIGCONT)
    _wait_for(sock, "WATCHDOG=1", 5)
    stop()
    assert any("STOPPING=1" in m for m in _messages(sock, 1))


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """systemd's side: a datagram socket, named to the children started meanwhile."""
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        monkeypatch.setenv("WATCHDOG_USEC", "1000000")
        yield sock


def test_edge_agent_pings_the_watchdog_only_while_running(
    tmp_path: Path, private_broker, edge_agents, notify_socket: socket.socket
) -> None:
    config = site_yaml(tmp_path / "site.yaml", private_broker.url)
    agent = edge_agents(config, {})
    assert agent.proc is not None
    _pings_only_while_running(notify_socket, agent.proc.pid, agent.stop)


def test_relay_pings_the_watchdog_only_while_running(
    camera_factory, relay_factory, notify_socket: socket.socket
) -> None:
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")})
    _pings_only_while_running(notify_socket, relay.proc.pid, relay.stop)


def test_hub_pings_the_watchdog_only_while_running(
    pg_dsn: str, tmp_path: Path, notify_socket: socket.socket
) -> None:
    migrate.upgrade(pg_dsn)
    port = free_port()
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump({
        "state_dir": str(tmp_path / "state"), "database": {"url": pg_dsn},
        "hub": {"secret_key": SECRET, "host": "127.0.0.1", "port": port}}))
    proc = spawn([sys.executable, "-m", "hub", "hub", "--config", str(config)],
                 tmp_path / "hub.log")
    try:
        _pings_only_while_running(notify_socket, proc.pid, lambda: proc.send_signal(signal.SIGTERM))
    finally:
        stop(proc)
