"""systemd's notify protocol (sd_notify(3)): READY=1, STOPPING=1 and the watchdog.

With ``Type=notify`` and ``WatchdogSec=`` in the unit, systemd sets ``NOTIFY_SOCKET`` and
``WATCHDOG_USEC``; a process that stops sending ``WATCHDOG=1`` within that time (hung,
deadlocked, or stopped with SIGSTOP) is killed (SIGABRT) and restarted by ``Restart=``.
The pings come from a task on the process's own event loop and only while its health check
passes, so a blocked loop or a failing check stops them. The protocol is one datagram on a
Unix socket; no library needed (python-systemd needs libsystemd headers to build).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)


def notify(state: str) -> bool:
    """Send one state line to systemd; False when not run under a notify-type unit."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path  # abstract namespace
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(state.encode(), address)
        except OSError as exc:
            log.warning("sd_notify failed: %s", exc)
            return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between pings (half of WATCHDOG_USEC), or None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 2e6


async def watchdog(healthy: Callable[[], Awaitable[bool]]) -> None:
    """Ping the watchdog while ``healthy()`` says so; run as a task until cancelled."""
    every = watchdog_interval()
    if every is None:
        return
    while True:
        try:
            ok = await asyncio.wait_for(healthy(), timeout=every)
        except Exception as exc:  # a check that raises or hangs is a failed check
            log.warning("health check failed: %s", type(exc).__name__)
            ok = False
        if ok:
            notify("WATCHDOG=1")
        await asyncio.sleep(every)


async def loop_runs() -> bool:
    """Liveness as ``/healthz`` has it: the event loop runs this (no dependency checked)."""
    return True


@contextlib.asynccontextmanager
async def supervised(healthy: Callable[[], Awaitable[bool]] = loop_runs) -> AsyncIterator[None]:
    """READY=1 on entry, watchdog pings while inside (and ``healthy()``), STOPPING=1 on exit:
    a service's whole life under ``Type=notify`` + ``WatchdogSec=``; nothing without them."""
    pings = asyncio.create_task(watchdog(healthy))
    notify("READY=1")
    try:
        yield
    finally:
        notify("STOPPING=1")
        pings.cancel()
