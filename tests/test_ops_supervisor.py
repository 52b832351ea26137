"""The demo's supervisor restarts a part that was killed (SIGKILL) and one that hangs
(SIGSTOP: alive, but its liveness probe stops answering), including the embedded PostgreSQL
and Mosquitto."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from core.files import write_private
from core.net import free_port, port_open
from devkit.demo.runner import restarter
from devkit.demo.stack import Stack
from devkit.demo.supervisor import Part, mqtt_live
from devkit.embedded import EmbeddedBroker, EmbeddedPostgres
from devkit.fixtures.wait import wait_for


def _until(stack: Stack, done: Callable[[], bool], timeout: float = 30) -> float:
    """Seconds until ``done()``, the supervisor checking its services meanwhile."""
    t0 = time.monotonic()

    def checked() -> bool:
        stack.supervisor.check()
        return done()

    wait_for(checked, timeout, "back in time", step=0.2)
    return time.monotonic() - t0


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.close()


def test_a_killed_or_hung_child_is_restarted(stack: Stack, tmp_path: Path) -> None:
    port = free_port()
    stack.python(
        "web", ["-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    )
    url = f"http://127.0.0.1:{port}/"
    stack.set_liveness("web", url)
    _until(stack, lambda: _answers(url))
    first = stack.pid("web")

    os.kill(first, signal.SIGKILL)
    _until(stack, lambda: stack.pid("web") != first and _answers(url))
    assert len(stack.supervisor.parts["web"].restarts) == 1

    second = stack.pid("web")
    os.kill(second, signal.SIGSTOP)  # alive to the kernel, dead to its users
    _until(stack, lambda: stack.pid("web") != second and _answers(url))
    assert len(stack.supervisor.parts["web"].restarts) == 2


def test_the_supervisors_loop_restarts_a_killed_child_and_stops_when_told(
        stack: Stack, tmp_path: Path) -> None:
    """``run()``, as the demo and bench.soak use it: exits between probe rounds too."""
    port = free_port()
    stack.python(
        "web", ["-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    )
    url = f"http://127.0.0.1:{port}/"
    stack.set_liveness("web", url)
    stop = threading.Event()
    loop = threading.Thread(target=stack.supervisor.run, args=(stop.is_set,))
    loop.start()
    try:
        wait_for(lambda: _answers(url), 30, "web up")
        first = stack.pid("web")
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: stack.pid("web") != first and _answers(url), 30, "web back")
    finally:
        stop.set()
        loop.join(10)
    assert not loop.is_alive()
    assert len(stack.supervisor.parts["web"].restarts) == 1


def test_a_killed_postgres_is_restarted(stack: Stack, tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg").start()
    stack.add("postgres", pg.stop, service=True)
    stack.supervisor.add(Part("postgres", lambda: pg.running, restarter(pg)))
    assert pg.proc is not None
    os.kill(pg.proc.pid, signal.SIGKILL)

    def serving() -> bool:
        try:
            with psycopg.connect(pg.dsn, connect_timeout=1) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.OperationalError:
            return False

    _until(stack, serving, timeout=60)
    assert stack.supervisor.parts["postgres"].restarts


def test_a_hung_mosquitto_is_restarted(stack: Stack, tmp_path: Path) -> None:
    """A stopped broker still completes TCP handshakes (the kernel does): only a CONNACK
    proves it runs, so the probe speaks MQTT."""
    broker = EmbeddedBroker(tmp_path / "mqtt").start()
    stack.add("mosquitto", broker.stop, service=True)
    stack.supervisor.add(Part("mosquitto", lambda: broker.proc is not None
                              and broker.proc.poll() is None, restarter(broker),
                              probe=lambda: mqtt_live(broker.port)))
    _until(stack, lambda: mqtt_live(broker.port))
    assert broker.proc is not None
    first = broker.proc.pid
    os.kill(first, signal.SIGSTOP)
    try:
        assert port_open(broker.port) and not mqtt_live(broker.port)
        _until(stack, lambda: broker.proc is not None and broker.proc.pid != first
               and mqtt_live(broker.port))
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone already when it was restarted
            os.kill(first, signal.SIGKILL)
    assert len(stack.supervisor.parts["mosquitto"].restarts) == 1


def test_postgres_stays_reachable_after_its_state_directory_is_tightened(tmp_path: Path) -> None:
    """The demo writes 0600 files next to its database after PostgreSQL started, which
    tightens the directory to 0700; a PostgreSQL running as its own user then PANICs at its
    next checkpoint unless the way to its data directory is opened again."""
    state = tmp_path / "state"
    pg = EmbeddedPostgres(state / "postgres").start()
    try:
        write_private(state / "secret", "x")  # tightens `state` (core.files.private_dir)
        pg.keep_reachable()
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute("CHECKPOINT")  # opens pg_control afresh
        assert pg.running
    finally:
        pg.stop()
