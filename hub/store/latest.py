"""Latest reading per sensor and metric: hints written lazily, exact at query time.

Dashboards ask "what is every sensor reading now" constantly, so ``latest_readings``
holds one row per (sensor, metric). Upserting it in every batch cost a third of the
ingest rate, so a writer keeps the newest row per series in memory and writes its
hints when a series appears for the first time or every
``store.latest_hint_interval_s``. While it holds unwritten hints, its row in
``latest_pending`` (written once per interval, in a batch's transaction) says from
which reading time hints may be stale; ``queries.latest_readings`` probes
``readings`` from there on (nothing when no writer holds hints). A writer that dies
leaves its row behind; ``cityhub db maintain`` folds it into the hints (``fold``).

In-memory state changes only once the batch's transaction has committed: ``stage``
returns what to apply then.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from operator import itemgetter
from typing import Any

import psycopg

from hub.store.copyin import Row

#: A ``READINGS`` row's time, and its series (sensor key, metric key).
_TIME = itemgetter(0)
_SERIES = itemgetter(1, 2)
Series = tuple[int, int]

_UPSERT = (
    "INSERT INTO latest_readings (sensor_key, metric_key, time, value, quality) "
    "SELECT * FROM unnest(%s::int[], %s::int[], %s::timestamptz[], %s::float8[], %s::int2[]) "
    "ON CONFLICT (sensor_key, metric_key) DO UPDATE SET time = excluded.time, "
    "value = excluded.value, quality = excluded.quality WHERE excluded.time > latest_readings.time"
)
_PENDING = (
    "INSERT INTO latest_pending (writer, since) VALUES (%s, %s) ON CONFLICT (writer) DO UPDATE "
    "SET since = least(latest_pending.since, excluded.since), updated_at = now()"
)
#: Hints from the rows at or after a dead writer's ``since`` (``fold``).
_FOLD = (
    "INSERT INTO latest_readings (sensor_key, metric_key, time, value, quality) "
    "SELECT DISTINCT ON (sensor_key, metric_key) sensor_key, metric_key, time, value, quality "
    "FROM readings WHERE time >= %s ORDER BY sensor_key, metric_key, time DESC "
    "ON CONFLICT (sensor_key, metric_key) DO UPDATE SET time = excluded.time, "
    "value = excluded.value, quality = excluded.quality WHERE excluded.time > latest_readings.time"
)

Commit = Callable[[], None]


class LatestHints:
    """One writer's unwritten hints, the series it has hinted, and its pending row."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.writer = uuid.uuid4()
        self._pending: dict[Series, Row] = {}
        self._hinted: set[Series] = set()
        self._since: datetime | None = None  # what our latest_pending row says, if any
        self._written_at = 0.0

    def forget(self) -> None:
        """A batch failed without knowing whether it committed, or the caller rolled back a
        transaction around committed batches: start afresh as a new writer. Our pending
        row, if it exists, keeps queries exact until maintenance folds it like a dead
        writer's; hints already written stay valid."""
        self.writer = uuid.uuid4()
        self._pending, self._hinted = {}, set()
        self._since, self._written_at = None, 0.0

    async def stage(self, conn: psycopg.AsyncConnection[Any], rows: list[Row]) -> Commit:
        """Do this batch's share in its transaction; apply the returned callable once the
        transaction has committed.

        Inserted rows are unique per (sensor, metric, time): ordering them by time (a near
        no-op for a chronological batch) and letting later rows overwrite earlier ones in a
        dict leaves the newest per series without a Python loop.
        """
        ordered = sorted(rows, key=_TIME)
        newest: dict[Series, Row] = dict(zip(map(_SERIES, ordered), ordered, strict=True))
        now = time.monotonic()
        if newest.keys() <= self._hinted and now - self._written_at < self.interval_s:
            since = _TIME(ordered[0])
            if self._since is None or since < self._since:
                await conn.execute(_PENDING, (self.writer, since))
            return lambda: self._hold(newest, since)
        hints = self._merged(newest)
        keys = sorted(hints)
        latest = [hints[k] for k in keys]
        await conn.execute(
            _UPSERT,
            (
                [k[0] for k in keys],
                [k[1] for k in keys],
                [r[0] for r in latest],
                [r[3] for r in latest],
                [r[4] for r in latest],
            ),
        )
        if self._since is not None:
            await conn.execute("DELETE FROM latest_pending WHERE writer = %s", (self.writer,))
        return lambda: self._written(keys, now)

    def _merged(self, newest: dict[Series, Row]) -> dict[Series, Row]:
        if not self._pending:
            return newest
        merged = dict(self._pending)
        for key, row in newest.items():
            held = merged.get(key)
            if held is None or row[0] > held[0]:
                merged[key] = row
        return merged

    def _hold(self, newest: dict[Series, Row], since: datetime) -> None:
        self._pending = self._merged(newest)
        self._since = since if self._since is None else min(self._since, since)

    def _written(self, keys: list[Series], at: float) -> None:
        self._hinted.update(keys)
        self._pending, self._since, self._written_at = {}, None, at


async def fold(conn: psycopg.AsyncConnection[Any], older_than_s: float) -> int:
    """Fold pending rows not touched for ``older_than_s`` (their writer died or went idle
    holding hints) into the hints; returns how many. Live writers rewrite theirs within
    their interval, so a row this old is safe to fold (a writer that wakes up holding
    hints writes them on its next batch anyway: the interval has passed)."""
    async with conn.transaction():
        cur = await conn.execute(
            "DELETE FROM latest_pending WHERE updated_at < now() - make_interval(secs => %s) "
            "RETURNING since",
            (older_than_s,),
        )
        stale = [r[0] for r in await cur.fetchall()]
        if stale:
            await conn.execute(_FOLD, (min(stale),))
    return len(stale)
