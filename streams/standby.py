"""One active relay per state directory, and a warm standby ready to take its place.

A relay holds an exclusive ``flock`` on ``<state_dir>/relay/active.lock`` for as long as it
runs, so two relays never record into, resume from or serve the same state. Started with
``--standby``, a relay that finds the lock held waits for it, its code already imported
and its media plugins loaded; the kernel releases the lock the moment the active relay's
process ends (SIGKILL, a crash, the watchdog's SIGABRT), and the standby starts serving in a
fraction of a second instead of a whole cold start (1-2 s of imports on a loaded host). The
supervisor's restart of the dead one (systemd, the demo's) becomes the next standby.

The lock file names the holder's pid: a standby that took over waits for that process to be
gone entirely (a zombie has closed its files), so the ports it listened on are free.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib
import logging
import os
import signal
import time
from pathlib import Path

from core import sdnotify
from core.files import private_dir
from streams.config import relay_dir

log = logging.getLogger(__name__)

POLL_S = 0.02  #: how often a standby tries the lock (cancellable, unlike a blocking flock)
#: A new standby waits this long before it loads the relay: it is usually started because
#: the active relay just died, and its imports would take CPU from the take-over under way.
SETTLE_S = 5.0
GONE_WAIT_S = 5.0  #: longest wait for the previous holder's sockets to close


def lock_path(state_dir: Path, node_id: str | None = None) -> Path:
    """Where a state directory's relays meet, beside the resume file (streams/resume.py);
    one lock per node of a relay cluster (cluster.node_id) that shares the directory."""
    return relay_dir(state_dir) / (f"active-{node_id}.lock" if node_id else "active.lock")


def holder(path: Path) -> int | None:
    """The pid that holds (or last held) the lock, as it wrote it; None if unknown."""
    try:
        return int(path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


class ActiveLock:
    """The exclusive lock that makes a relay the active one; kept until the process ends."""

    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited (PEP 446)

    def try_acquire(self) -> bool:
        """Take the lock if it is free (``claim`` then records this process as its holder)."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def claim(self, took_over: bool) -> None:
        """Write this pid into the lock file; after a take-over, first wait until the
        previous holder is gone (its listening sockets closed)."""
        previous = holder(self.path)
        if took_over and previous is not None and previous != os.getpid():
            wait_gone(previous, GONE_WAIT_S)
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)


def _gone(pid: int) -> bool:
    """The process no longer exists or is a zombie (its files, sockets included, closed)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X")


def wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(POLL_S / 4)


def warm_up() -> None:
    """Import the relay and load the GStreamer plugins its first camera needs, while
    nothing waits on them (a take-over then starts at ``Relay.start``)."""
    importlib.import_module("streams.server")
    from gi.repository import Gst  # noqa: PLC0415 (version required by streams.server)

    Gst.init(None)
    for name in ("rtspsrc", "rtph264depay", "rtph265depay", "h264parse", "h265parse",
                 "tee", "proxysink", "proxysrc", "appsink", "appsrc", "valve",
                 "splitmuxsink", "mp4mux", "h264timestamper", "rtph264pay"):
        factory = Gst.ElementFactory.find(name)
        if factory is not None:
            factory.load()


async def stand_by(lock: ActiveLock) -> bool:
    """Wait, ready and watched by systemd's watchdog, until the lock is ours (True) or
    SIGTERM/SIGINT ends the wait (False)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("standby: relay pid %s is active; waiting to take over", holder(lock.path))
    # Ready for systemd (a standby is a healthy unit) but never STOPPING: it goes on serving.
    pings = asyncio.create_task(sdnotify.watchdog(sdnotify.loop_runs))
    sdnotify.notify(f"READY=1\nSTATUS=standby for relay pid {holder(lock.path)}")
    try:
        settled, warm = loop.time() + SETTLE_S, False
        while not lock.try_acquire():
            if not warm and loop.time() >= settled:
                warm_up()  # on this thread: an import may set signal handlers
                log.info("standby: warm")
                warm = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_S)
            if stop.is_set():
                return False
    finally:
        pings.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    log.info("standby: the active relay is gone; taking over")
    return True
