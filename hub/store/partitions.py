"""Partitions on demand (plain PostgreSQL): a late batch never lacks its partition.

``cityhub db maintain`` keeps partitions from ``max_backlog_days`` behind to
``partitions_ahead_days`` ahead, but an edge box coming back after a long outage,
a replay, or a hub whose maintenance has not run yet can bring rows from weeks
nobody prepared. The writer accepts such rows (they are inside its backlog
window), so it must make room for them first; otherwise good data would be
dead-lettered as "no partition".

The weeks known to exist are cached, so the common batch costs one set lookup.
Missing partitions are created in their own short transaction before the batch's
(creating a partition locks its parent; holding that lock for a whole batch would
stall concurrent writers and queries).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from hub.store.scalar import ascalar

#: Partition width and origin of ``store_ensure_partitions`` (weeks starting on Monday, UTC).
WIDTH = timedelta(days=7)
ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)


def week_of(t: datetime) -> int:
    return (t - ORIGIN) // WIDTH


class PartitionCoverage:
    """The weeks of ``events`` and ``readings`` that have a partition, made when missing."""

    def __init__(self) -> None:
        self._weeks: dict[str, set[int]] = {}

    def forget(self) -> None:
        self._weeks.clear()

    async def cover(
        self, conn: psycopg.AsyncConnection[Any], table: str, first: datetime, last: datetime
    ) -> int:
        """Make sure ``table`` has partitions from ``first`` to ``last``; returns how many
        partitions were created."""
        needed = set(range(week_of(first), week_of(last) + 1))
        known = self._weeks.get(table)
        if known is None:
            known = self._weeks[table] = await self._existing(conn, table)
        if needed <= known:
            return 0
        async with conn.transaction():
            made = int(await ascalar(
                conn, "SELECT store_ensure_partitions(%s::regclass, %s, %s)",
                (table, first, last + timedelta(microseconds=1)),
            ))
        known |= needed
        return made

    @staticmethod
    async def _existing(conn: psycopg.AsyncConnection[Any], table: str) -> set[int]:
        cur = await conn.execute("SELECT lo, hi FROM store_partitions(%s::regclass)", (table,))
        weeks: set[int] = set()
        for lo, hi in await cur.fetchall():
            if lo is not None and hi is not None:
                weeks.update(range(week_of(lo), week_of(hi - timedelta(microseconds=1)) + 1))
        return weeks
