"""The batch writer the MQTT ingest calls: events, readings and dead letters in one transaction.

Idempotent (a redelivered event id, or a reading with the same sensor, metric
and time, is stored once) and poison-tolerant (a row the store refuses is
dead-lettered with its reason; the rest of the batch is stored). See
``copyin`` for how. On plain PostgreSQL the writer logs the hours its inserted
events fall in (``rollup_invalidations``) so that counts stay exact until the
rollups are refreshed; with TimescaleDB continuous aggregates track that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter, itemgetter
from typing import Any

import psycopg

from adapters.model import Event, Reading, ReadingRow
from core.topics import department_of
from hub.store.copyin import Row
from hub.store.latest import Commit, LatestHints
from hub.store.media import MediaBlob, store_media
from hub.store.partitions import PartitionCoverage
from hub.store.pending_cameras import Discovered, record
from hub.store.rows import (
    EVENTS,
    READINGS,
    READINGS_FULL,
    WIM_INSERT,
    Unstorable,
    event_row,
    letter_of,
    reading_row,
    wim_row,
)
from hub.store.settings import StoreConfig

#: A ``READINGS`` row's time.
_TIME = itemgetter(0)
#: The partitioning time of an event and of a reading (model or ``ReadingRow``).
_OCCURRED = attrgetter("occurred_at")
_READ_AT = attrgetter("time")

@dataclass
class DeadLetter:
    """A payload the hub could not store, kept for inspection."""

    topic: str
    reason: str
    payload: bytes
    received_at: datetime | None = None
    #: Whose admins may read it: the record's department where the store refused a record,
    #: else the one in the topic (``city/{department}/...``); None: SQL only.
    department: str | None = None

    def owner(self) -> str | None:
        return self.department or department_of(self.topic)


@dataclass
class BatchResult:
    events_inserted: int = 0
    events_duplicate: int = 0
    readings_inserted: int = 0
    readings_duplicate: int = 0
    dead_lettered: int = 0
    media_stored: int = 0
    #: Reasons of rows this batch dead-lettered (not those passed in as dead letters).
    rejections: list[str] = field(default_factory=list)


class BatchWriter:
    """Writes batches into one database; caches sensor and metric keys and the store layout."""

    def __init__(self, config: StoreConfig | None = None) -> None:
        self.config = config or StoreConfig()
        self._sensors: dict[str, int] = {}
        self._metrics: dict[str, int] = {}
        self._rollup_tables: bool | None = None
        self._partitioned = False  # plain PostgreSQL: partitions are made on demand
        self._partitions = PartitionCoverage()
        self._hints = LatestHints(self.config.latest_hint_interval_s)

    def forget(self) -> None:
        """Drop cached keys (call after rolling back an outer transaction around ``write``)."""
        self._sensors.clear()
        self._metrics.clear()
        self._partitions.forget()
        self._hints.forget()

    async def write(
        self,
        conn: psycopg.AsyncConnection[Any],
        events: Sequence[Event] = (),
        readings: Sequence[Reading | ReadingRow] = (),
        dead_letters: Sequence[DeadLetter] = (),
        topic: str = "store",
        media: Sequence[MediaBlob] = (),
        discoveries: Sequence[Discovered] = (),
    ) -> BatchResult:
        """Store one batch in one transaction; ``topic`` labels rows the database rejects.
        ``discoveries``: edge boxes' reports of ONVIF devices (pending cameras)."""
        result = BatchResult()
        now = datetime.now(UTC)
        letters = list(dead_letters)
        sensors_before, metrics_before = dict(self._sensors), dict(self._metrics)
        if self._rollup_tables is None:
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT timescaledb, NOT continuous_aggregates FROM store_info"
                )
                row = await cur.fetchone()
            if row is None:
                raise RuntimeError("store_info is empty: run `cityhub db upgrade`")
            self._partitioned, self._rollup_tables = not row[0], bool(row[1])
        if self._partitioned:
            await self._cover(conn, "events", events, _OCCURRED, now)
            await self._cover(conn, "readings", readings, _READ_AT, now)
        hinted: Commit | None = None
        try:
            async with conn.transaction():
                if events:
                    letters += await self._events(conn, events, now, topic, result)
                if readings:
                    letters_, hinted = await self._readings(conn, readings, now, topic, result)
                    letters += letters_
                if media:
                    result.media_stored = await store_media(conn, media)
                if discoveries:
                    await record(conn, list(discoveries))
                if letters:
                    await self._dead_letters(conn, letters, now)
                    result.dead_lettered = len(letters)
        except BaseException:
            self._sensors, self._metrics = sensors_before, metrics_before
            # The commit may have happened (connection lost while committing): continue as
            # a new writer; our pending row, if committed, keeps queries exact until
            # maintenance folds it.
            self._hints.forget()
            raise
        if hinted is not None:
            hinted()  # committed (or released into the caller's transaction: see forget)
        return result

    async def _cover(
        self,
        conn: psycopg.AsyncConnection[Any],
        table: str,
        rows: Sequence[Any],
        time_of: Any,
        now: datetime,
    ) -> None:
        """Partitions for the batch's time range, clipped to the accepted window (rows
        outside it are dead-lettered, never stored)."""
        if not rows:
            return
        times = list(map(time_of, rows))
        lo, hi = self._window(now)
        first, last = max(min(times), lo), min(max(times), hi)
        if first <= last:
            await self._partitions.cover(conn, table, first, last)

    def _window(self, now: datetime) -> tuple[datetime, datetime]:
        """Times accepted in this batch: [now - backlog, now + skew]."""
        c = self.config
        return now - timedelta(days=c.max_backlog_days), now + timedelta(
            seconds=c.max_future_skew_s
        )

    def _window_reason(self, at: datetime) -> str:
        c = self.config
        if at > datetime.now(UTC):
            return f"time {at.isoformat()} is in the future (clock skew > {c.max_future_skew_s} s)"
        return (
            f"time {at.isoformat()} is older than the accepted backlog ({c.max_backlog_days} days)"
        )

    async def _events(
        self,
        conn: psycopg.AsyncConnection[Any],
        events: Sequence[Event],
        now: datetime,
        topic: str,
        result: BatchResult,
    ) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        rows: list[Row] = []
        kept: list[Event] = []
        lo, hi = self._window(now)
        for e in events:
            if not lo <= e.occurred_at <= hi:
                letters.append(_letter(topic, self._window_reason(e.occurred_at), e))
                continue
            try:
                rows.append(event_row(e, now))
            except Unstorable as exc:
                letters.append(_letter(topic, str(exc), e))
                continue
            kept.append(e)
        by_id = {e.id: e for e in kept}
        if len(by_id) != len(rows):  # the same id twice in one batch: keep the first
            seen: set[Any] = set()
            unique = []
            for row in rows:
                if row[0] not in seen:
                    seen.add(row[0])
                    unique.append(row)
            result.events_duplicate += len(rows) - len(unique)
            rows = unique
        with_wim = any(e.wim is not None for e in kept)

        async def wim(inserted: list[Row]) -> None:
            wim_rows = [wim_row(by_id[r[0]]) for r in inserted if by_id[r[0]].wim is not None]
            if wim_rows:
                async with conn.cursor() as cur:
                    await cur.executemany(WIM_INSERT, wim_rows)

        outcome = await EVENTS.insert(conn, rows, wim if with_wim else None)
        result.events_inserted += len(outcome.inserted)
        result.events_duplicate += outcome.duplicates
        for row, reason in outcome.rejected:
            refused = by_id[row[0]]
            letters.append(_letter(topic, reason, refused))
        result.rejections += [d.reason for d in letters]
        if self._rollup_tables and outcome.inserted:
            await self._invalidate_rollups(conn, outcome.inserted)
        return letters

    async def _invalidate_rollups(
        self, conn: psycopg.AsyncConnection[Any], rows: list[Row]
    ) -> None:
        """Log the hours these rows fall in: their counts come from raw rows until refreshed."""
        hours = sorted({r[1].replace(minute=0, second=0, microsecond=0) for r in rows})
        await conn.execute(
            "INSERT INTO rollup_invalidations (lo, hi) "
            "SELECT h, h + INTERVAL '1 hour' FROM unnest(%s::timestamptz[]) AS h",
            (hours,),
        )

    async def resolve_keys(
        self, conn: psycopg.AsyncConnection[Any], readings: Sequence[Reading | ReadingRow]
    ) -> tuple[dict[str, int], dict[str, int]]:
        new_sensors = {r.sensor: r for r in readings if r.sensor not in self._sensors}
        if new_sensors:
            rs = sorted(new_sensors.values(), key=lambda r: r.sensor)
            await conn.execute(
                "INSERT INTO sensors (id, site_id, department_id) "
                "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) ON CONFLICT (id) DO "
                "NOTHING",
                ([r.sensor for r in rs], [r.site for r in rs], [r.department for r in rs]),
            )
            cur = await conn.execute(
                "SELECT id, key FROM sensors WHERE id = ANY(%s)", (list(new_sensors),)
            )
            self._sensors.update({i: k for i, k in await cur.fetchall()})
        new_metrics = {r.metric: r.unit for r in readings if r.metric not in self._metrics}
        if new_metrics:
            names = sorted(new_metrics)
            await conn.execute(
                "INSERT INTO metrics (name, unit) SELECT * FROM unnest(%s::text[], %s::text[]) "
                "ON CONFLICT (name) DO NOTHING",
                (names, [new_metrics[n] for n in names]),
            )
            cur = await conn.execute("SELECT name, key FROM metrics WHERE name = ANY(%s)", (names,))
            self._metrics.update({n: k for n, k in await cur.fetchall()})
        return self._sensors, self._metrics

    async def _readings(
        self,
        conn: psycopg.AsyncConnection[Any],
        readings: Sequence[Reading | ReadingRow],
        now: datetime,
        topic: str,
        result: BatchResult,
    ) -> tuple[list[DeadLetter], Commit | None]:
        letters: list[DeadLetter] = []
        lo, hi = self._window(now)
        sensors, metrics = self._sensors, self._metrics
        accepted: Sequence[Reading | ReadingRow] = readings
        try:  # the common batch: every key cached, every time inside the window (one pass)
            rows: list[Row] = [reading_row(r, sensors, metrics) for r in readings]
            times = list(map(_TIME, rows))
            inside = lo <= min(times) and max(times) <= hi
        except KeyError:  # a new sensor or metric: resolve keys of in-window readings only
            inside = False
        if not inside:
            accepted = [r for r in readings if lo <= r.time <= hi]
            if len(accepted) != len(readings):
                letters += [
                    _letter(topic, self._window_reason(r.time), r)
                    for r in readings
                    if not lo <= r.time <= hi
                ]
            sensors, metrics = await self.resolve_keys(conn, accepted)
            rows = [reading_row(r, sensors, metrics) for r in accepted]
        # Same sensor, metric and time twice in the batch: the first is kept (``insert``).
        narrow = len(READINGS.columns)
        full = [row for row in rows if len(row) != narrow]
        if not full:
            outcome = await READINGS.insert(conn, rows)
        else:
            outcome = await READINGS.insert(conn, [row for row in rows if len(row) == narrow])
            outcome.add(await READINGS_FULL.insert(conn, full))
        result.readings_inserted += len(outcome.inserted)
        result.readings_duplicate += outcome.duplicates
        if outcome.rejected:
            by_key: dict[tuple[Any, ...], int] = {}
            for i, row in enumerate(rows):
                by_key.setdefault(READINGS.key_of(row), i)
            for row, reason in outcome.rejected:
                letters.append(
                    _letter(topic, reason, accepted[by_key[READINGS.key_of(row)]])
                )
        result.rejections += [d.reason for d in letters]
        hinted = await self._hints.stage(conn, outcome.inserted) if outcome.inserted else None
        return letters, hinted

    async def _dead_letters(
        self, conn: psycopg.AsyncConnection[Any], letters: list[DeadLetter], now: datetime
    ) -> None:
        limit = self.config.max_dead_letter_payload
        async with (
            conn.cursor() as cur,
            cur.copy(
                "COPY dead_letters (received_at, topic, reason, payload, payload_size,"
                " department_id) FROM STDIN"
            ) as copy,
        ):
            for d in letters:
                payload = bytes(d.payload)
                reason = d.reason.replace("\x00", "\\0")[:2000]
                topic = d.topic.replace("\x00", "\\0")[:1000]
                if len(payload) > limit:
                    reason += f" (payload truncated to {limit} of {len(payload)} bytes)"
                await copy.write_row(
                    (d.received_at or now, topic, reason, payload[:limit], len(payload),
                     d.owner())
                )


def _letter(label: str, reason: str, refused: Event | Reading | ReadingRow) -> DeadLetter:
    """A refused record's dead letter: a message of its own (``rows.letter_of``; ``label``
    names the writer's caller where it makes none), owned by the record's department."""
    topic, payload = letter_of(refused, label)
    return DeadLetter(topic, reason, payload, department=refused.department)
