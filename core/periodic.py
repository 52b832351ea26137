"""One loop for the work every component runs on a timer (recording retention on a relay,
the outbox caps on an edge box, ``cityhub db maintain --every``, the GB/T 28181 service's
watchdog and cascade polls).

A round that fails is tried again next time. Failures in a row are an outage being ridden
out (a database or broker restarting) until they have lasted ``OUTAGE_GRACE_S``: the first is
a warning with its reason, the rest debug lines. A longer streak is broken, not passing: an
error with the traceback, once a minute while it lasts. The round that works again says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

OUTAGE_GRACE_S = 30.0  #: failing this long in a row is broken, not a restart being waited out
ERROR_EVERY_S = 60.0  #: a broken loop's error (with traceback) is repeated this often


def until_tick(now: float, tick: float) -> float:
    """Seconds from ``now`` to the next multiple of ``tick`` (never 0: a whole tick then).
    Loops that wait this long wake together on one grid of their clock, not each on its own
    phase (a relay's camera actors: one wake-up a tick, not one per camera)."""
    return tick - now % tick or tick


class FailureStreak:
    """A loop's failures in a row, and what each one is worth in the log."""

    def __init__(self, what: str, grace_s: float = OUTAGE_GRACE_S) -> None:
        self.what, self.grace_s = what, grace_s
        self.since: float | None = None  # monotonic time of the streak's first failure
        self._errored_at: float | None = None

    def failed(self, exc: BaseException, retry_s: float) -> None:
        """Log the failure being handled (call from the ``except`` block)."""
        now = time.monotonic()
        if self.since is None:
            self.since = now
            reason = (str(exc).strip().splitlines() or [""])[0]
            log.warning("%s failed (%s: %s); trying again in %g s", self.what,
                        type(exc).__name__, reason, retry_s)
        elif now - self.since < self.grace_s:
            log.debug("%s still failing: %s", self.what, exc)
        elif self._errored_at is None or now - self._errored_at >= ERROR_EVERY_S:
            self._errored_at = now
            log.exception("%s has failed for %.0f s; trying again every %g s", self.what,
                          now - self.since, retry_s)

    def worked(self) -> None:
        if self.since is not None:
            log.info("%s works again after %.1f s", self.what, time.monotonic() - self.since)
        self.since = self._errored_at = None


async def every(
    interval_s: float,
    work: Callable[[], Awaitable[object]],
    what: str,
    at_once: bool = False,
    survives: tuple[type[Exception], ...] = (Exception,),
) -> None:
    """Await ``work()`` every ``interval_s`` (first at once or after one interval) until
    cancelled. A failure of a kind in ``survives`` is logged (``FailureStreak``) and the next
    round still comes: work that failed once (a database away, a disk full) must not stop
    for good."""
    if not at_once:
        await asyncio.sleep(interval_s)
    streak = FailureStreak(what)
    while True:
        try:
            await work()
        except survives as exc:
            streak.failed(exc, interval_s)
        else:
            streak.worked()
        await asyncio.sleep(interval_s)
