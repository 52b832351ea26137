"""Latest reading per sensor and metric: hints written by the writer, exact at query time.

Dashboards ask "what is every sensor reading now" constantly, so ``latest_readings``
holds one row per (sensor, metric). Upserting it in every batch cost a third of the
ingest rate, so each writer keeps the newest row per series in memory and writes
the hints when a series appears for the first time or every
``store.latest_hint_interval_s``. ``queries.latest_readings`` adds any row newer
than the hint (an index probe into the newest chunk or partition), so an answer
is exact even when a hint lags or a writer crashed before writing it.
"""

from __future__ import annotations

import time
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


class LatestHints:
    """One writer's pending hints (kept across batches) and the series already hinted."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._pending: dict[Series, Row] = {}
        self._hinted: set[Series] = set()
        self._written_at = 0.0

    def forget(self) -> None:
        """After a failed batch: pending hints are only a saving (queries are exact without
        them), and every series with rows already has its hint row (written in the same
        transaction as its first rows), so dropping what is held is safe."""
        self._pending.clear()
        self._hinted.clear()

    async def update(self, conn: psycopg.AsyncConnection[Any], rows: list[Row]) -> None:
        """Take this batch's inserted rows; write the hints in the batch's transaction when
        a series is new or the interval has passed.

        Inserted rows are unique per (sensor, metric, time): ordering them by time (a near
        no-op for a chronological batch) and letting later rows overwrite earlier ones in a
        dict leaves the newest per series without a Python loop.
        """
        ordered = sorted(rows, key=_TIME)
        newest: dict[Series, Row] = dict(zip(map(_SERIES, ordered), ordered, strict=True))
        pending = self._pending
        if pending:
            for key, row in newest.items():
                held = pending.get(key)
                if held is None or row[0] > held[0]:
                    pending[key] = row
        else:
            pending.update(newest)
        now = time.monotonic()
        if newest.keys() <= self._hinted and now - self._written_at < self.interval_s:
            return
        keys = sorted(pending)
        rows_ = [pending[k] for k in keys]
        await conn.execute(
            _UPSERT,
            (
                [k[0] for k in keys],
                [k[1] for k in keys],
                [r[0] for r in rows_],
                [r[3] for r in rows_],
                [r[4] for r in rows_],
            ),
        )
        self._hinted.update(keys)
        self._pending, self._written_at = {}, now
