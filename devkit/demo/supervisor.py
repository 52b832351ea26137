"""The demo's supervisor: restarts a part that died, or that hangs (its liveness probe stops
answering, e.g. after SIGSTOP), as systemd's watchdog, Kubernetes' liveness probe and
compose's autoheal do in production. Each part is a name, an ``alive()`` check, a
``restart()`` and optionally a liveness URL or probe (PostgreSQL: a query; Mosquitto: a
CONNACK); restarts back off (0.5 s doubling to 10 s) while a part keeps failing."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import psycopg

log = logging.getLogger(__name__)
#: Liveness failing this long (after a first success) means hung. A busy shared machine
#: (load 10+ on 2 cores) leaves a healthy hub or relay unanswered for 4 s at times.
HUNG_AFTER_S = 8.0
PROBE_TIMEOUT_S = 1.0
EXITS_EVERY_S = 0.1
PROBES_EVERY_S = 0.5


@dataclass
class Part:
    name: str
    alive: Callable[[], bool]  #: the process exists (not exited)
    restart: Callable[[], None]  #: SIGKILL whatever is left, start again (non-blocking)
    live_url: str | None = None  #: /healthz-style URL: 200 while the process is not hung
    probe: Callable[[], bool] | None = None  #: else this: True while it is not hung
    hung_after_s: float = HUNG_AFTER_S  #: liveness failing this long means hung
    restarts: list[float] = field(default_factory=list)  #: wall-clock times of restarts
    _ok_since_start: bool = False
    _failing_since: float | None = None
    _backoff: float = 0.5
    _next_try: float = 0.0


class Supervisor:
    def __init__(self) -> None:
        self.parts: dict[str, Part] = {}

    def add(self, part: Part) -> None:
        self.parts[part.name] = part

    def run(self, stopping: Callable[[], bool]) -> None:
        """Until ``stopping()``: exits looked at every EXITS_EVERY_S (systemd learns of one
        at once, from SIGCHLD), liveness probed every PROBES_EVERY_S."""
        next_probe = 0.0
        while not stopping():
            if time.monotonic() >= next_probe:
                self.check()
                next_probe = time.monotonic() + PROBES_EVERY_S
            else:
                self.check_exits()
            time.sleep(EXITS_EVERY_S)

    def check_exits(self) -> set[str]:
        """Restart what exited; names of the parts found dead (restarted or backing off)."""
        dead = {p.name for p in self.parts.values() if not p.alive()}
        for name in dead:
            self._restart(self.parts[name], "exited")
        return dead

    def check(self) -> None:
        """One round: restart what is dead, then what is hung. Exits are looked at first,
        for every part: a dead relay is not kept waiting behind the other parts' liveness
        probes (up to PROBE_TIMEOUT_S each on a busy machine)."""
        dead = self.check_exits()
        for part in self.parts.values():
            if part.name in dead:
                continue
            reason = self._hung(part, time.monotonic())
            if reason is not None:
                self._restart(part, reason)

    def _restart(self, part: Part, reason: str) -> bool:
        """Restarts the part unless it is backing off; whether it was restarted."""
        if time.monotonic() < part._next_try:
            return False
        log.warning("demo supervisor: %s %s: restarting", part.name, reason)
        try:
            part.restart()
            part._backoff = 0.5
        except Exception as exc:  # e.g. a port still held: try again later
            log.warning("demo supervisor: %s did not restart: %s", part.name, exc)
            part._backoff = min(part._backoff * 2, 10.0)
        part._next_try = time.monotonic() + part._backoff
        part._ok_since_start, part._failing_since = False, None
        part.restarts.append(time.time())
        return True

    def _hung(self, part: Part, now: float) -> str | None:
        if part.live_url is not None:
            ok = http_live(part.live_url)
        elif part.probe is not None:
            ok = part.probe()
        else:
            return None
        if ok:
            part._ok_since_start, part._failing_since = True, None
            return None
        if not part._ok_since_start:
            return None  # still starting: its own start-up timeout applies
        if part._failing_since is None:
            part._failing_since = now
        if now - part._failing_since >= part.hung_after_s:
            return f"hung (liveness failing {now - part._failing_since:.1f} s)"
        return None


def http_live(url: str) -> bool:
    try:
        return httpx.get(url, timeout=PROBE_TIMEOUT_S).status_code == 200
    except httpx.HTTPError:
        return False


def postgres_live(dsn: str) -> bool:
    """A query answered: a stopped postmaster accepts the TCP connection, never the login."""
    try:
        with psycopg.connect(dsn, connect_timeout=1) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


#: MQTT 3.1.1 CONNECT, clean session, keep-alive 10 s, client id "demo-probe".
_CONNECT = bytes([0x10, 22, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 10, 0, 10]) + b"demo-probe"


def mqtt_live(port: int) -> bool:
    """A CONNACK (any return code): the kernel completes TCP for a stopped broker, not MQTT."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT_S) as sock:
            sock.sendall(_CONNECT)
            return sock.recv(4)[:1] == b"\x20"
    except OSError:
        return False
