"""Live events: PostgreSQL LISTEN/NOTIFY wakes subscribers, who re-query through their filter.

Migration 0002_access adds a statement-level trigger on ``events`` that sends an
empty ``NOTIFY cityhub_events`` per inserting statement (whatever the writer:
COPY batches included). One listening connection per API process turns each
notification into a wake-up of every subscriber; a subscriber then queries the
newly received rows with its caller re-authenticated and its visibility read
afresh, so nothing outside the caller's rights is ever sent and a revoked or
expired grant stops the stream's data at once. Subscribers also wake every few
seconds without a notification (missed wake-ups, keep-alives).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg

log = logging.getLogger(__name__)
CHANNEL = "cityhub_events"


class LiveHub:
    """Fans one LISTEN connection out to any number of waiting subscribers."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._generation = 0
        self._changed: asyncio.Condition | None = None
        self._task: asyncio.Task[None] | None = None

    def _ensure(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen(), name="live-listen")
        return self._changed

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    async for _ in conn.notifies():
                        await self._bump()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect; subscribers poll meanwhile
                log.warning(
                    "live events: listener lost its connection (%s); reconnecting",
                    type(exc).__name__,
                )
                await asyncio.sleep(1)

    async def _bump(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._generation += 1
            self._changed.notify_all()

    async def wait(self, seen: int, timeout: float) -> int:
        """Wait until something newer than generation ``seen`` arrived (or timeout)."""
        changed = self._ensure()
        async with changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait_for(lambda: self._generation > seen), timeout)
            return self._generation

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
