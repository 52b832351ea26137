"""The gateway rides out a relay restart: a connection the relay refuses is tried again
until ``ui.relay_restart_wait_s``, so a tile that retries while the relay is coming back
plays the moment it listens, instead of failing and waiting for its next backed-off retry
(nginx ``proxy_next_upstream``, Envoy ``retry_on: connect-failure`` do the same)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

T = TypeVar("T")
RETRY_EVERY_S = 0.1  #: a restarting relay is tried this often
#: Nothing reached the relay, so trying again is safe even for a WHEP offer (POST).
REFUSED: tuple[type[BaseException], ...] = (ConnectionRefusedError, httpx.ConnectError)


async def reach(attempt: Callable[[], Awaitable[T]], wait_s: float) -> T:
    """``attempt()``'s result; while it is refused, tried again every RETRY_EVERY_S until
    ``wait_s`` has passed (then the last refusal is raised)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return await attempt()
        except REFUSED:
            if time.monotonic() + RETRY_EVERY_S > deadline:
                raise
        await asyncio.sleep(RETRY_EVERY_S)
