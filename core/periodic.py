"""One loop for the housekeeping every component runs on a timer (recording retention on a
relay, the outbox caps on an edge box, ``cityhub db maintain --every``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def every(
    interval_s: float,
    work: Callable[[], Awaitable[object]],
    what: str,
    at_once: bool = False,
    survives: tuple[type[Exception], ...] = (Exception,),
) -> None:
    """Await ``work()`` every ``interval_s`` (first at once or after one interval) until
    cancelled. A failure of a kind in ``survives`` is logged and the next round still comes:
    housekeeping that failed once (a database away, a disk full) must not stop for good."""
    if not at_once:
        await asyncio.sleep(interval_s)
    while True:
        try:
            await work()
        except survives:
            log.exception("%s failed; trying again in %g s", what, interval_s)
        await asyncio.sleep(interval_s)
