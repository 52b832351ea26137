"""Periodic upkeep (``cityhub db maintain``): partitions ahead, retention, policies.

Plain PostgreSQL: creates the partitions for the accepted window (backlog
behind, ``partitions_ahead_days`` ahead) and drops whole partitions past
retention. TimescaleDB: sets the retention/compression policies to the
configured values (its background jobs do the work); with the Apache-only
build (no policies) it drops old chunks itself. Both: rollups and dead letters
past retention are deleted; weigh-in-motion records follow their own retention;
latest-reading hints a dead writer never wrote are rebuilt (``latest.fold``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from hub.store.latest import fold as fold_latest
from hub.store.settings import StoreConfig


@dataclass
class MaintenanceReport:
    timescaledb: bool
    partitions_created: int = 0
    partitions_dropped: int = 0
    rows_deleted: dict[str, int] = field(default_factory=dict)
    rollup_ranges_refreshed: int = 0
    chunks_compressed: int = 0
    latest_hints_folded: int = 0


async def _info(conn: psycopg.AsyncConnection[Any]) -> tuple[bool, bool]:
    cur = await conn.execute("SELECT timescaledb, continuous_aggregates FROM store_info")
    row = await cur.fetchone()
    if row is None:
        raise RuntimeError("store_info is empty: run `cityhub db upgrade`")
    return bool(row[0]), bool(row[1])


async def ensure_partitions(
    conn: psycopg.AsyncConnection[Any], start: datetime, end: datetime
) -> int:
    """Plain PostgreSQL: make sure events and readings can take rows in [start, end)."""
    timescale, _ = await _info(conn)
    if timescale:
        return 0  # chunks are created on demand
    made = 0
    for table in ("events", "readings"):
        made += await _count(
            conn, "SELECT store_ensure_partitions(%s::regclass, %s, %s)", (table, start, end)
        )
    return made


async def _count(conn: psycopg.AsyncConnection[Any], query: str, params: tuple[Any, ...]) -> int:
    """The number an aggregate or a store function answers (such a SELECT has one row)."""
    row = await (await conn.execute(query, params)).fetchone()
    assert row is not None  # noqa: S101  # an aggregate/function SELECT always returns one row
    return int(row[0])


def _raw(cfg: StoreConfig) -> list[tuple[str, int]]:
    """The raw tables (partitioned, or hypertables) and their retention in days."""
    return [("events", cfg.events_retention_days), ("readings", cfg.readings_retention_days)]


def _chunked(cfg: StoreConfig) -> list[tuple[str, int]]:
    """Every TimescaleDB hypertable and its retention: the raw ones and the minute rollups."""
    return [*_raw(cfg), ("event_counts_minute", cfg.minute_rollup_retention_days),
            ("reading_stats_minute", cfg.minute_rollup_retention_days)]


async def _drop_chunks(conn: psycopg.AsyncConnection[Any], tables: list[tuple[str, int]]) -> int:
    """TimescaleDB: drop the chunks past each table's retention; how many were dropped."""
    dropped = 0
    for table, days in tables:
        dropped += await _count(
            conn,
            "SELECT count(*) FROM drop_chunks(%s::regclass, older_than => "
            "make_interval(days => %s))",
            (table, days),
        )
    return dropped


async def _set_policies(conn: psycopg.AsyncConnection[Any], cfg: StoreConfig) -> None:
    policies = [(table, "retention", days) for table, days in _chunked(cfg)] + [
        (table, "compression", cfg.compress_after_days) for table, _ in _raw(cfg)
    ]
    for table, kind, days in policies:
        remove = sql.Identifier(f"remove_{kind}_policy")
        add = sql.Identifier(f"add_{kind}_policy")
        arg = sql.Identifier("drop_after" if kind == "retention" else "compress_after")
        await conn.execute(sql.SQL("SELECT {}(%s, if_exists => true)").format(remove), (table,))
        await conn.execute(
            sql.SQL("SELECT {}(%s, {} => make_interval(days => %s))").format(add, arg),
            (table, days),
        )


async def maintain(conn: psycopg.AsyncConnection[Any], cfg: StoreConfig) -> MaintenanceReport:
    timescale, caggs = await _info(conn)
    report = MaintenanceReport(timescaledb=timescale)
    async with conn.transaction():
        row = await (await conn.execute("SELECT now()")).fetchone()
        assert row is not None  # noqa: S101  # SELECT now() always returns one row
        now = row[0]
        if not timescale:
            for table, keep in _raw(cfg):
                report.partitions_created += await _count(
                    conn,
                    "SELECT store_ensure_partitions(%s::regclass, %s - make_interval(days => %s), "
                    "%s + make_interval(days => %s))",
                    (table, now, min(cfg.max_backlog_days, keep), now, cfg.partitions_ahead_days),
                )
                report.partitions_dropped += await _count(
                    conn,
                    "SELECT store_drop_partitions(%s::regclass, %s - make_interval(days => %s))",
                    (table, now, keep),
                )
        elif caggs:
            await _set_policies(conn, cfg)
        else:
            report.partitions_dropped += await _drop_chunks(conn, _raw(cfg))
        deletions = [
            ("dead_letters", "received_at", cfg.dead_letter_retention_days),
            ("wim_records", "occurred_at", cfg.wim_retention_days),
            ("media", "stored_at", cfg.media_retention_days),
        ]
        if not caggs:
            deletions += [
                ("event_counts_minute", "bucket", cfg.minute_rollup_retention_days),
                ("event_counts_hour", "bucket", cfg.events_retention_days),
                ("event_counts_hour_citywide", "bucket", cfg.events_retention_days),
            ]
        for table, column, days in deletions:
            cur = await conn.execute(
                sql.SQL("DELETE FROM {} WHERE {} < %s - make_interval(days => %s)").format(
                    sql.Identifier(table), sql.Identifier(column)
                ),
                (now, days),
            )
            report.rows_deleted[table] = cur.rowcount
    report.rollup_ranges_refreshed = await refresh_rollups(conn)
    report.latest_hints_folded = await fold_latest(
        conn, max(60.0, 10 * cfg.latest_hint_interval_s)
    )
    if caggs and conn.autocommit:
        report.chunks_compressed, report.partitions_dropped = await _timescale_jobs(conn, cfg)
    return report


_VIEWS = (
    ("event_counts_minute", "1 minute"),
    ("event_counts_hour", "1 hour"),
    ("event_counts_hour_citywide", "1 hour"),
    ("reading_stats_minute", "1 minute"),
    ("reading_stats_hour", "1 hour"),
)


async def _timescale_jobs(conn: psycopg.AsyncConnection[Any], cfg: StoreConfig) -> tuple[int, int]:
    """Do from this session what TimescaleDB's policy jobs do: refresh, compress, drop.

    The policies stay configured, but TimescaleDB 2.17.2's background jobs fail on
    PostgreSQL 15.20 here ("cannot drop portal while it is being set up") after doing
    their work, so maintenance does not depend on them. Each call is idempotent and
    only touches what changed; it needs an autocommit connection (refreshes cannot run
    inside a transaction).
    """
    now = datetime.now(UTC)
    start = now - timedelta(days=cfg.max_backlog_days + 1)
    for view, width in _VIEWS:
        end = now - (timedelta(minutes=1) if width == "1 minute" else timedelta(hours=1))
        await conn.execute("CALL refresh_continuous_aggregate(%s, %s, %s)", (view, start, end))
    compressed = 0
    for table, _ in _raw(cfg):
        compressed += await _count(
            conn,
            "SELECT count(compress_chunk(c, if_not_compressed => true)) FROM show_chunks(%s, "
            "older_than => make_interval(days => %s)) c",
            (table, cfg.compress_after_days),
        )
    return compressed, await _drop_chunks(conn, _chunked(cfg))


async def refresh_aggregates(
    conn: psycopg.AsyncConnection[Any], start: datetime, end: datetime
) -> None:
    """Materialise the aggregates over [start, end) now: continuous aggregates on
    TimescaleDB (needs an autocommit connection), pending rollup hours otherwise."""
    _, caggs = await _info(conn)
    if not caggs:
        await refresh_rollups(conn)
        return
    for view in (
        "event_counts_minute",
        "event_counts_hour",
        "event_counts_hour_citywide",
        "reading_stats_minute",
        "reading_stats_hour",
    ):
        await conn.execute("CALL refresh_continuous_aggregate(%s, %s, %s)", (view, start, end))


_REFRESH = """
WITH taken AS (DELETE FROM rollup_invalidations RETURNING lo, hi)
SELECT lower(r), upper(r) FROM unnest((SELECT range_agg(tstzrange(lo, hi)) FROM taken)) AS r
"""
_FOLD = (
    "INSERT INTO {} (bucket, site_id, kind, department_id, source_system, n) "
    "SELECT date_bin(%s::interval, occurred_at, TIMESTAMPTZ '2000-01-01 00:00Z'), site_id, kind, "
    "department_id, source_system, count(*) FROM events WHERE occurred_at >= %s AND occurred_at < "
    "%s "
    "GROUP BY 1, 2, 3, 4, 5"
)

_FOLD_CITYWIDE = (
    "INSERT INTO event_counts_hour_citywide (bucket, kind, department_id, source_system, n) "
    "SELECT bucket, kind, department_id, source_system, sum(n) FROM event_counts_hour "
    "WHERE bucket >= %s AND bucket < %s GROUP BY 1, 2, 3, 4"
)


async def refresh_rollups(conn: psycopg.AsyncConnection[Any]) -> int:
    """Plain PostgreSQL: fold the hours logged by writers into the rollup tables.

    Returns the number of merged hour ranges refreshed. One refresher at a time
    (advisory lock); writers keep going meanwhile (their new log rows are picked
    up next time, and queries count logged hours from raw rows until then).
    """
    _, caggs = await _info(conn)
    if caggs:
        return 0
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('cityhub.store.rollups'))")
        ranges = await (await conn.execute(_REFRESH)).fetchall()
        for lo, hi in ranges:
            for table, width in (
                ("event_counts_minute", "1 minute"),
                ("event_counts_hour", "1 hour"),
            ):
                await conn.execute(
                    sql.SQL("DELETE FROM {} WHERE bucket >= %s AND bucket < %s").format(
                        sql.Identifier(table)
                    ),
                    (lo, hi),
                )
                await conn.execute(sql.SQL(_FOLD).format(sql.Identifier(table)), (width, lo, hi))
            await conn.execute(
                "DELETE FROM event_counts_hour_citywide WHERE bucket >= %s AND bucket < %s",
                (lo, hi),
            )
            await conn.execute(_FOLD_CITYWIDE, (lo, hi))
    return len(ranges)


async def rebuild_rollups(conn: psycopg.AsyncConnection[Any]) -> int:
    """After a bulk import that bypassed the writer: recompute every hour that has events."""
    _, caggs = await _info(conn)
    if caggs:
        return 0
    await conn.execute(
        "INSERT INTO rollup_invalidations (lo, hi) "
        "SELECT date_bin('1 hour', min(occurred_at), TIMESTAMPTZ '2000-01-01 00:00Z'), "
        "max(occurred_at) + INTERVAL '1 hour' FROM events HAVING count(*) > 0"
    )
    if not conn.autocommit:
        await conn.commit()
    return await refresh_rollups(conn)
