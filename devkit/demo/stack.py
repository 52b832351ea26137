"""A stack of running parts, stopped whatever happens: the parts at once, then the services
they stand on (database, broker), so Ctrl-C costs one grace period, not one per part."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.net import port_open
from devkit.demo.supervisor import Part, Supervisor
from devkit.embedded.process import spawn, stop, tail

log = logging.getLogger(__name__)


class Stack:
    """Starts parts one after another; ``close()`` stops the parts together, then the
    services (``add(..., service=True)``) last-first."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._stops: list[tuple[str, Callable[[], None]]] = []
        self._services: list[tuple[str, Callable[[], None]]] = []
        self._procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        self.supervisor = Supervisor()
        self.edge_url: str | None = None  #: the demo edge box's listener, once started
        #: its push device's (user, password) for digest authentication
        self.edge_push: tuple[str, str] | None = None

    def add(self, name: str, stop_fn: Callable[[], None], service: bool = False) -> None:
        (self._services if service else self._stops).append((name, stop_fn))

    def python(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        """Run ``python -m ...`` of this interpreter as a child that dies with us; the
        supervisor restarts it with the same arguments if it dies or hangs."""
        logfile = self.log_of(name)
        proc = spawn([sys.executable, *argv], logfile)
        self._procs[name] = (proc, logfile)
        self.add(name, lambda: stop(self._procs[name][0]))

        def restart() -> None:
            stop(self._procs[name][0], signal.SIGKILL)
            self._procs[name] = (spawn([sys.executable, *argv], logfile), logfile)

        self.supervisor.add(Part(name, lambda: self._procs[name][0].poll() is None, restart))
        return proc

    def pid(self, name: str) -> int:
        """The current process id of a child (changes when the supervisor restarts it)."""
        return self._procs[name][0].pid

    def set_liveness(self, name: str, url: str) -> None:
        """A /healthz-style URL: the supervisor restarts the part when it stops answering."""
        self.supervisor.parts[name].live_url = url

    def set_probe(self, name: str, probe: Callable[[], bool]) -> None:
        """A liveness check of its own (True while not hung), instead of a URL."""
        self.supervisor.parts[name].probe = probe

    def cityhub(self, name: str, args: Sequence[str]) -> subprocess.Popen[bytes]:
        """Run a ``cityhub`` subcommand of this installation as a child."""
        return self.python(name, ["-m", "hub", *args])

    def log_of(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def wait_ready(self, name: str, ready: Callable[[], bool], timeout: float = 30) -> None:
        """Wait for ``ready()``; fail with the logs if a child dies or time runs out."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.failed() or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n" + "\n".join(self.failed())
                                   + "\n" + tail(self.log_of(name)))
            time.sleep(0.1)

    def wait_port(self, name: str, port: int, timeout: float = 30) -> None:
        self.wait_ready(name, lambda: port_open(port), timeout)

    def wait_log(self, name: str, text: str, timeout: float = 30) -> None:
        self.wait_ready(name, lambda: text in tail(self.log_of(name), 200), timeout)

    def failed(self) -> list[str]:
        """Children that have exited, with the end of their log."""
        return [
            f"{name} exited with {p.returncode}:\n{tail(logfile)}"
            for name, (p, logfile) in self._procs.items()
            if p.poll() is not None
        ]

    def close(self) -> None:
        parts, self._stops = self._stops[::-1], []
        if parts:
            with ThreadPoolExecutor(len(parts), thread_name_prefix="stop") as pool:
                list(pool.map(_stop_one, parts))
        while self._services:
            _stop_one(self._services.pop())


def _stop_one(part: tuple[str, Callable[[], None]]) -> None:
    name, fn = part
    t0 = time.monotonic()
    try:
        fn()
    except Exception:  # keep stopping the rest
        log.exception("stopping %s failed", name)
    if (took := time.monotonic() - t0) > 5:
        log.warning("stopping %s took %.1f s", name, took)
