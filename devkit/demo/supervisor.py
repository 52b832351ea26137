"""The demo's supervisor: restarts a part that died, or that hangs (its liveness URL stops
answering, e.g. after SIGSTOP), as systemd's watchdog and Kubernetes' liveness probe do in
production. Each part is a name, an ``alive()`` check, a ``restart()`` and optionally a
liveness URL; restarts back off (0.5 s doubling to 10 s) while a part keeps failing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

log = logging.getLogger(__name__)
HUNG_AFTER_S = 2.0  #: liveness failing this long (after a first success) means hung
PROBE_TIMEOUT_S = 0.5


@dataclass
class Part:
    name: str
    alive: Callable[[], bool]  #: the process exists (not exited)
    restart: Callable[[], None]  #: SIGKILL whatever is left, start again (non-blocking)
    live_url: str | None = None  #: /healthz-style URL: 200 while the process is not hung
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

    def check(self) -> list[str]:
        """One round: restart what is dead or hung; names of what was restarted."""
        restarted = []
        now = time.monotonic()
        for part in self.parts.values():
            reason = self._problem(part, now)
            if reason is None or now < part._next_try:
                continue
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
            restarted.append(part.name)
        return restarted

    def _problem(self, part: Part, now: float) -> str | None:
        if not part.alive():
            return "exited"
        if part.live_url is None:
            return None
        try:
            ok = httpx.get(part.live_url, timeout=PROBE_TIMEOUT_S).status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            part._ok_since_start, part._failing_since = True, None
            return None
        if not part._ok_since_start:
            return None  # still starting: its own start-up timeout applies
        if part._failing_since is None:
            part._failing_since = now
        if now - part._failing_since >= HUNG_AFTER_S:
            return f"hung (liveness failing {now - part._failing_since:.1f} s)"
        return None
