"""Store benchmark: ingest through the BatchWriter against raw COPY, then the three key queries.

``python -m bench.store [--events N] [--readings M] [--batch B] [--dsn URL]`` prints one JSON
object. Batches alternate between the store's writer and a raw COPY of already
prepared rows into the same tables (same connection, same growing indexes), so
``events_ratio``/``readings_ratio`` compare like with like in the same run. The
dataset is N events over the last 30 days (chronological, as a replay), 50 sites.
Afterwards rollups are rebuilt (plain PostgreSQL; raw-copied rows bypass the
writer) or continuous aggregates refreshed and old chunks compressed
(TimescaleDB), as the hub's steady state would have them, and the queries are
timed with p95 over repeated runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from uuid6 import uuid7

from adapters.model import Event, Reading, Severity
from bench.report import finish
from core.model import Location, SourceSystem
from devkit.embedded import EmbeddedPostgres
from hub.store import migrate
from hub.store.filters import CountQuery, EventQuery, SeriesQuery
from hub.store.maintain import ensure_partitions, rebuild_rollups, refresh_aggregates
from hub.store.queries import count_events, latest_readings, query_events, reading_series
from hub.store.rows import EVENTS, READINGS, event_row
from hub.store.settings import StoreConfig
from hub.store.visibility import Scope, Visibility
from hub.store.writer import BatchWriter

DAYS = 30
SITES = [f"site-{i:02d}" for i in range(50)]
DEPARTMENTS = ["police", "traffic", "citymgmt", "overload", "bus"]
KINDS = ["plate_read", "intrusion", "overspeed", "red_light", "crowd", "case", "overweight", "door"]
SYSTEMS = [
    SourceSystem.safecity,
    SourceSystem.traffic,
    SourceSystem.citymgmt,
    SourceSystem.overload,
    SourceSystem.bus,
]


def _dept(site_index: int) -> int:
    return site_index % len(DEPARTMENTS)


class Dataset:
    """Deterministic synthetic city traffic, made one batch at a time (never all in memory)."""

    def __init__(self, n_events: int, n_readings: int, end: datetime) -> None:
        self.n_events, self.n_readings = n_events, n_readings
        self.start = end - timedelta(days=DAYS)
        self.span = (end - self.start).total_seconds() - 60
        self.rng = random.Random(42)

    def events(self, first: int, count: int) -> list[Event]:
        rng, out = self.rng, []
        for i in range(first, min(first + count, self.n_events)):
            s = rng.randrange(len(SITES))
            d = _dept(s)
            attrs: dict[str, Any] = {"confidence": round(rng.random(), 3)}
            if rng.random() < 0.3:
                attrs["plate"] = f"LU{rng.randrange(100000):05d}"
            out.append(
                Event.model_construct(
                    id=uuid7(),
                    occurred_at=self.start + timedelta(seconds=self.span * i / self.n_events),
                    source_system=SYSTEMS[d],
                    kind=rng.choice(KINDS),
                    severity=Severity(rng.randrange(4)),
                    department=DEPARTMENTS[d],
                    site=SITES[s],
                    camera=f"{SITES[s]}-cam{rng.randrange(4)}",
                    device=None,
                    location=Location.model_construct(lat=30 + s / 100, lon=120 + s / 100),
                    attributes=attrs,
                    media=[],
                    wim=None,
                )
            )
        return out

    def readings(self, first: int, count: int) -> list[Reading]:
        rng, out = self.rng, []
        for i in range(first, min(first + count, self.n_readings)):
            sensor = rng.randrange(200)
            s = sensor % len(SITES)
            out.append(
                Reading.model_construct(
                    time=self.start + timedelta(seconds=self.span * i / self.n_readings),
                    sensor=f"sensor-{sensor:03d}",
                    metric=rng.choice(["pm25", "no2", "temp"]),
                    value=rng.uniform(0, 100),
                    unit=None,
                    quality=0,
                    department=DEPARTMENTS[_dept(s)],
                    site=SITES[s],
                )
            )
        return out


async def _raw_copy(
    conn: psycopg.AsyncConnection[Any], table: Any, rows: list[tuple[Any, ...]]
) -> None:
    async with conn.transaction():
        await table.copy(conn, rows)


async def _load(
    conn: psycopg.AsyncConnection[Any], data: Dataset, batch: int
) -> tuple[dict[str, float], dict[str, int]]:
    """Rows/s of each path, and the rows each path stored."""
    writer = BatchWriter(StoreConfig(max_backlog_days=DAYS + 1))
    t: dict[str, float] = {"store_ev": 0, "raw_ev": 0, "store_rd": 0, "raw_rd": 0}
    n: dict[str, int] = {"store_ev": 0, "raw_ev": 0, "store_rd": 0, "raw_rd": 0}
    for k, first in enumerate(range(0, data.n_events, batch)):
        events = data.events(first, batch)
        if k % 2 == 0:  # the store's writer: Event objects in, everything it does timed
            t0 = time.perf_counter()
            result = await writer.write(conn, events=events)
            t["store_ev"] += time.perf_counter() - t0
            n["store_ev"] += result.events_inserted
        else:  # baseline: rows already prepared, raw COPY only
            rows = [event_row(e, datetime.now(UTC)) for e in events]
            t0 = time.perf_counter()
            await _raw_copy(conn, EVENTS, rows)
            t["raw_ev"] += time.perf_counter() - t0
            n["raw_ev"] += len(rows)
    for k, first in enumerate(range(0, data.n_readings, batch)):
        readings = data.readings(first, batch)
        if k % 2 == 0:
            t0 = time.perf_counter()
            result = await writer.write(conn, readings=readings)
            t["store_rd"] += time.perf_counter() - t0
            n["store_rd"] += result.readings_inserted
        else:
            async with conn.transaction():
                sensors, metrics = await writer.resolve_keys(conn, readings)
            rows = [
                (r.time, sensors[r.sensor], metrics[r.metric], r.value, r.quality) for r in readings
            ]
            unique = list({(r[1], r[2], r[0]): r for r in rows}.values())
            t0 = time.perf_counter()
            await _raw_copy(conn, READINGS, unique)
            t["raw_rd"] += time.perf_counter() - t0
            n["raw_rd"] += len(unique)
    return {k: n[k] / t[k] if t[k] else 0.0 for k in t}, n


async def _p95(fn: Any, runs: int) -> float:
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        await fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return round(times[min(len(times) - 1, int(0.95 * len(times)))], 2)


async def _queries(
    conn: psycopg.AsyncConnection[Any], end: datetime, runs: int
) -> dict[str, float]:
    rng = random.Random(7)

    def site_scope(site: str) -> Visibility:  # an operator of the owning department
        return Visibility.of(Scope.of(departments=[DEPARTMENTS[_dept(SITES.index(site))]]))

    async def latest(i: int) -> None:
        site = rng.choice(SITES)
        q = EventQuery(start=end - timedelta(days=DAYS), end=end, sites=[site], limit=100)
        page = await query_events(conn, q, site_scope(site))
        assert len(page.items) == 100

    async def minute(i: int) -> None:
        site = rng.choice(SITES)
        q = CountQuery(start=end - timedelta(hours=24), end=end, bucket="minute", sites=[site])
        assert await count_events(conn, q, site_scope(site))

    async def hourly(i: int) -> None:
        q = CountQuery(start=end - timedelta(days=DAYS), end=end, bucket="hour")
        assert await count_events(conn, q, Visibility.everything())

    async def series(i: int) -> None:
        q = SeriesQuery(
            sensor=f"sensor-{rng.randrange(200):03d}",
            metric="pm25",
            start=end - timedelta(hours=24),
            end=end,
            bucket="minute",
        )
        await reading_series(conn, q, Visibility.everything())

    async def now_readings(i: int) -> None:  # the dashboard's "every sensor now"
        assert len(await latest_readings(conn, Visibility.everything())) == 600

    return {
        "q_latest_p95_ms": await _p95(latest, runs),
        "q_latest_readings_p95_ms": await _p95(now_readings, runs),
        "q_minute_p95_ms": await _p95(minute, runs),
        "q_hourly_p95_ms": await _p95(hourly, max(10, runs // 2)),
        "q_series_p95_ms": await _p95(series, runs),
    }


async def queries_only(dsn: str, n_events: int, runs: int) -> dict[str, Any]:
    """Time the queries again on a database a previous run loaded (same --events)."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        row = await (
            await conn.execute(
                "SELECT timescaledb, max(occurred_at) FROM store_info, events GROUP BY 1"
            )
        ).fetchone()
        assert row is not None, "no events: load the dataset with a full run first"
        end = (row[1] + timedelta(minutes=1)).replace(second=0, microsecond=0)
        figures = await _queries(conn, end, runs)
    return {"n_events": n_events, "timescaledb": bool(row[0]), "queries_only": True, **figures}


async def bench(dsn: str, n_events: int, n_readings: int, batch: int, runs: int) -> dict[str, Any]:
    migrate.upgrade(dsn)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    data = Dataset(n_events, n_readings, end)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        info = await (
            await conn.execute(
                "SELECT timescaledb, compression, continuous_aggregates FROM store_info"
            )
        ).fetchone()
        assert info is not None
        await ensure_partitions(conn, data.start - timedelta(days=1), end + timedelta(days=1))
        t0 = time.perf_counter()
        rates, loaded = await _load(conn, data, batch)
        load_s = time.perf_counter() - t0
        stored = {}
        for table in ("events", "readings"):
            row = await (await conn.execute(f"SELECT count(*) FROM {table}")).fetchone()
            stored[table] = int(row[0]) if row else 0
        t0 = time.perf_counter()
        if info[2]:
            await refresh_aggregates(conn, data.start - timedelta(days=1), end)
            await conn.execute(
                "SELECT count(compress_chunk(c, true)) FROM show_chunks('events', "
                "older_than => INTERVAL '7 days') c"
            )
            await conn.execute(
                "SELECT count(compress_chunk(c, true)) FROM show_chunks('readings', "
                "older_than => INTERVAL '7 days') c"
            )
        else:
            await rebuild_rollups(conn)
        await conn.execute("ANALYZE")
        settle_s = time.perf_counter() - t0
        figures = await _queries(conn, end, runs)
    return {
        "n_events": n_events,
        "n_readings": n_readings,
        "stored": stored,
        "expected": {
            "events": n_events,
            "readings": loaded["store_rd"] + loaded["raw_rd"],
        },
        "batch": batch,
        "timescaledb": bool(info[0]),
        "compression": bool(info[1]),
        "continuous_aggregates": bool(info[2]),
        "events_per_s": round(rates["store_ev"]),
        "copy_events_per_s": round(rates["raw_ev"]),
        "events_ratio": round(rates["store_ev"] / rates["raw_ev"], 3) if rates["raw_ev"] else None,
        "readings_per_s": round(rates["store_rd"]),
        "copy_readings_per_s": round(rates["raw_rd"]),
        "readings_ratio": round(rates["store_rd"] / rates["raw_rd"], 3)
        if rates["raw_rd"]
        else None,
        **figures,
        "load_s": round(load_s, 1),
        "settle_s": round(settle_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=10_000_000, help="events in the dataset")
    p.add_argument("--readings", type=int, default=None, help="readings (default: events / 5)")
    p.add_argument("--batch", type=int, default=5000, help="rows per batch (one transaction)")
    p.add_argument("--runs", type=int, default=60, help="repetitions per query")
    p.add_argument("--dsn", help="an existing, empty database (default: a private cluster)")
    p.add_argument(
        "--queries-only",
        action="store_true",
        help="only re-time the queries on --dsn, loaded by an earlier run",
    )
    args = p.parse_args(argv)
    if args.queries_only:
        if not args.dsn:
            p.error("--queries-only needs --dsn")
        json.dump(asyncio.run(queries_only(args.dsn, args.events, args.runs)), sys.stdout)
        sys.stdout.write("\n")
        return 0
    n_readings = args.events // 5 if args.readings is None else args.readings
    if args.dsn:
        result = asyncio.run(bench(args.dsn, args.events, n_readings, args.batch, args.runs))
    else:
        with (
            tempfile.TemporaryDirectory(prefix="bench-store-") as tmp,
            EmbeddedPostgres(Path(tmp) / "pg") as pg,
        ):
            result = asyncio.run(bench(pg.dsn, args.events, n_readings, args.batch, args.runs))
    problems = [
        f"{table}: {result['stored'][table]} rows stored, {n} expected"
        for table, n in result["expected"].items()
        if result["stored"][table] != n
    ]
    if not result["copy_events_per_s"] or not result["copy_readings_per_s"]:
        problems.append("no baseline: fewer than two batches of events or readings (--batch)")
    return finish("store", result, problems)


if __name__ == "__main__":
    sys.exit(main())
