"""A WebSocket view (live fMP4, recorded playback) that ends when its access ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from fastapi import WebSocket

from streams.auth.guard import ViewGuard
from streams.auth.tokens import PlayGrant

#: WebSocket close code telling a player that access was taken away (the reason follows).
ACCESS_ENDED = 4403


async def until_access_ends(
    guard: ViewGuard, grant: PlayGrant | None, ws: WebSocket, view: Coroutine[Any, Any, None]
) -> None:
    """Run ``view`` until it ends by itself or the hub ends its access; then the player
    gets close code 4403 with the reason (what the viewer is told)."""
    task = asyncio.ensure_future(view)
    why: list[str] = []

    def end(reason: str) -> None:
        why.append(reason)
        task.cancel()

    release = guard.watch(grant, end)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if why:
            with contextlib.suppress(Exception):  # the player may be gone already
                await ws.close(ACCESS_ENDED, why[0][:120])
        elif task.cancelled():  # we were cancelled from outside: pass it on
            raise asyncio.CancelledError
    finally:
        task.cancel()
        release()
