"""The batch writer on real PostgreSQL (TimescaleDB when installed): idempotent, poison-safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from adapters.model import WeighInMotion
from core.topics import events_topic
from devkit.fixtures.store import make_event, make_reading, run, store_layout
from hub.store.maintain import maintain
from hub.store.queries import latest_readings
from hub.store.scalar import scalar
from hub.store.settings import StoreConfig
from hub.store.visibility import Visibility
from hub.store.writer import BatchWriter, DeadLetter


async def _write(dsn: str, writer: BatchWriter, **batch):
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        return await writer.write(conn, **batch)


def _latest(dsn: str) -> list[tuple[str, str, float | None]]:
    async def go() -> list[tuple[str, str, float | None]]:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            rows = await latest_readings(conn, Visibility.everything())
        return [(r.sensor, r.metric, r.value) for r in rows]

    return run(go())


def _count(dsn: str, query: str) -> int:
    with psycopg.connect(dsn) as conn:
        return int(scalar(conn, query))


def test_batch_stored_once_when_redelivered(store_dsn: str) -> None:
    writer = BatchWriter()
    events = [make_event(site=f"s{i % 3}") for i in range(50)]
    readings = [make_reading(at=datetime.now(UTC) - timedelta(seconds=i)) for i in range(40)]
    first = run(_write(store_dsn, writer, events=events, readings=readings))
    assert (first.events_inserted, first.events_duplicate) == (50, 0)
    assert (first.readings_inserted, first.readings_duplicate) == (40, 0)
    # Redelivery of the whole batch, and of a batch mixing old and new rows, by a fresh writer.
    again = run(_write(store_dsn, BatchWriter(), events=events, readings=readings))
    assert (again.events_inserted, again.events_duplicate) == (0, 50)
    assert (again.readings_inserted, again.readings_duplicate) == (0, 40)
    mixed = run(_write(store_dsn, writer, events=events[:10] + [make_event()]))
    assert (mixed.events_inserted, mixed.events_duplicate) == (1, 10)
    assert _count(store_dsn, "SELECT count(*) FROM events") == 51
    assert _count(store_dsn, "SELECT count(*) FROM readings") == 40
    assert _count(store_dsn, "SELECT count(*) FROM dead_letters") == 0


def test_duplicate_ids_inside_one_batch(store_dsn: str) -> None:
    e = make_event()
    result = run(_write(store_dsn, BatchWriter(), events=[e, e, e]))
    assert (result.events_inserted, result.events_duplicate) == (1, 2)


def _wim(plate: str, checked: bool = True) -> WeighInMotion:
    """``checked=False`` builds it past validation: what a bug upstream could hand over."""
    fields: dict[str, Any] = {
        "station": "st1", "lane": 2, "plate": plate, "gross_kg": 52000, "axle_count": 5,
        "axle_weights_kg": [7000, 11000, 11000, 11500, 11500], "speed_kmh": 61.5,
        "calibration_id": "cal-2026-10", "limit_kg": 49000, "overweight": True,
        "excess_ratio": 3000 / 49000,
    }
    return WeighInMotion(**fields) if checked else WeighInMotion.model_construct(**fields)


def test_poisoned_batch_keeps_its_good_rows(store_dsn: str) -> None:
    good = [make_event() for _ in range(20)]
    # Refused by PostgreSQL: NUL in jsonb (caught before COPY) and in a text column of the
    # dependent WIM row (the model refuses it too; built past it, only the database path
    # finds it: bisection).
    poisoned = make_event(attributes={"note": "bad\x00byte"})
    poisoned_wim = make_event(source_system="overload", wim=_wim("AB\x00", checked=False))
    huge_int = make_event(attributes={"n": 2**80})  # beyond JSON numbers PostgreSQL keeps exactly
    future = make_event(at=datetime.now(UTC) + timedelta(days=2))
    ancient = make_event(at=datetime.now(UTC) - timedelta(days=400))
    batch = good[:7] + [poisoned, poisoned_wim] + good[7:] + [huge_int, future, ancient]
    result = run(_write(store_dsn, BatchWriter(), events=batch, topic="cityhub/v1/traffic/events"))
    assert result.events_inserted == 20
    assert result.dead_lettered == 5
    with psycopg.connect(store_dsn) as conn:
        rows = conn.execute(
            "SELECT topic, reason, payload FROM dead_letters ORDER BY id"
        ).fetchall()
        stored = {r[0] for r in conn.execute("SELECT id FROM events").fetchall()}
        wim_rows = scalar(conn, "SELECT count(*) FROM wim_records")
    assert stored == {e.id for e in good}
    assert wim_rows == 0
    # Each a message of its own on its own topic (cityhub ingest replay takes it as it is).
    refused = [poisoned, poisoned_wim, huge_int, future, ancient]
    assert {r[0] for r in rows} == {events_topic(e.department, e.site, e.source_system)
                                    for e in refused}
    reasons = " | ".join(r[1] for r in rows)
    assert "future" in reasons and "backlog" in reasons and "NUL" in reasons
    assert "DataError" in reasons  # the WIM row, isolated by the database path
    payloads = {bytes(r[2]) for r in rows}
    assert b'{"events":[' + poisoned.model_dump_json().encode() + b"]}" in payloads
    assert any(str(poisoned_wim.id).encode() in p for p in payloads)


def test_poisoned_redelivery_still_deduplicates(store_dsn: str) -> None:
    good = [make_event() for _ in range(10)]
    run(_write(store_dsn, BatchWriter(), events=good[:5]))
    poisoned = make_event(attributes={"x": "\x00"})
    result = run(_write(store_dsn, BatchWriter(), events=good + [poisoned]))
    assert (result.events_inserted, result.events_duplicate, result.dead_lettered) == (5, 5, 1)


def test_readings_dimensions_and_latest(store_dsn: str) -> None:
    writer = BatchWriter()
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    batch = [
        make_reading(at=t0 + timedelta(seconds=i), value=float(i), sensor=s, metric=m)
        for i in range(5)
        for s in ("aq1", "aq2")
        for m in ("pm25", "no2")
    ]
    result = run(_write(store_dsn, writer, readings=batch))
    assert result.readings_inserted == 20
    older = [make_reading(at=t0 - timedelta(minutes=1), value=-1.0, sensor="aq1", metric="pm25")]
    run(_write(store_dsn, writer, readings=older))
    with psycopg.connect(store_dsn) as conn:
        sensors = conn.execute("SELECT id, registered FROM sensors ORDER BY id").fetchall()
        metrics = conn.execute("SELECT name, unit FROM metrics ORDER BY name").fetchall()
    latest = _latest(store_dsn)
    assert sensors == [("aq1", False), ("aq2", False)]
    assert metrics == [("no2", "ug/m3"), ("pm25", "ug/m3")]
    # The older late reading did not replace the newest value.
    assert latest == [(s, m, 4.0) for s in ("aq1", "aq2") for m in ("no2", "pm25")]


def test_wim_typed_and_dead_letters_passed_in(store_dsn: str) -> None:
    wim = WeighInMotion(
        station="st1",
        lane=2,
        plate="LU1234",
        gross_kg=52000,
        axle_count=5,
        axle_weights_kg=[7000, 11000, 11000, 11500, 11500],
        speed_kmh=61.5,
        calibration_id="cal-2026-10",
        limit_kg=49000,
        overweight=True,
        excess_ratio=3000 / 49000,
    )
    e = make_event(source_system="overload", kind="overweight", department="overload", wim=wim)
    huge = b"x" * 5000
    cfg = StoreConfig(max_dead_letter_payload=1024)
    result = run(
        _write(
            store_dsn,
            BatchWriter(cfg),
            events=[e, e],
            dead_letters=[DeadLetter("t/raw", "not JSON", huge)],
        )
    )
    assert (result.events_inserted, result.events_duplicate, result.dead_lettered) == (1, 1, 1)
    with psycopg.connect(store_dsn) as conn:
        row = conn.execute(
            "SELECT station, lane, plate, gross_kg, axle_weights_kg, overweight "
            "FROM wim_records WHERE event_id = %s",
            (e.id,),
        ).fetchone()
        dl = conn.execute(
            "SELECT length(payload), payload_size, reason FROM dead_letters"
        ).fetchone()
    assert row == ("st1", 2, "LU1234", 52000.0, [7000.0, 11000.0, 11000.0, 11500.0, 11500.0], True)
    assert dl is not None and dl[0] == 1024 and dl[1] == 5000 and "truncated" in dl[2]


def test_concurrent_redelivery_stores_once(store_dsn: str) -> None:
    """The same batch handed to two ingest workers at once (a broker redelivery race)."""
    import asyncio

    events = [make_event() for _ in range(200)]

    async def both() -> list[Any]:
        return list(
            await asyncio.gather(
                *(_write(store_dsn, BatchWriter(), events=events) for _ in range(2))
            )
        )

    a, b = run(both())
    assert a.events_inserted + b.events_inserted == 200
    assert a.events_duplicate + b.events_duplicate == 200
    assert _count(store_dsn, "SELECT count(*) FROM events") == 200


def test_redelivery_into_compressed_chunks(store_dsn: str) -> None:
    """An edge backlog redelivered after its day was compressed (TimescaleDB): stored once."""
    old = [make_event(at=datetime.now(UTC) - timedelta(days=9, minutes=i)) for i in range(30)]
    run(_write(store_dsn, BatchWriter(), events=old))
    if store_layout(store_dsn)["compression"]:
        with psycopg.connect(store_dsn, autocommit=True) as conn:
            compressed = scalar(
                conn,
                "SELECT count(compress_chunk(c)) FROM show_chunks('events', "
                "older_than => INTERVAL '8 days') c"
            )
        assert compressed >= 1
    again = run(_write(store_dsn, BatchWriter(), events=[*old, make_event()]))
    assert (again.events_inserted, again.events_duplicate) == (1, 30)
    assert _count(store_dsn, "SELECT count(*) FROM events") == 31


def test_cached_keys_fast_path_keeps_window_duplicates_and_latest_exact(store_dsn: str) -> None:
    """A batch whose keys are all cached, with out-of-window rows and an in-batch duplicate."""
    import random

    from adapters.model import ReadingRow

    def row(t: datetime, sensor: str, metric: str, value: float) -> ReadingRow:
        return ReadingRow(t, sensor, metric, value, None, 0, "police", "site1")

    now = datetime.now(UTC)
    writer = BatchWriter()
    first = [row(now - timedelta(minutes=5), s, m, 0.0) for s in "ab" for m in "xy"]
    batch = [row(now - timedelta(seconds=i), s, m, float(i))
             for i in range(100) for s in "ab" for m in "xy"]
    random.Random(1).shuffle(batch)
    dup = row(batch[0].time, batch[0].sensor, batch[0].metric, 999.0)
    late = [row(now + timedelta(days=3), "a", "x", 5.0),
            row(now - timedelta(days=400), "b", "y", 6.0)]
    batch = batch[:50] + [dup] + late[:1] + batch[50:] + late[1:]

    async def go() -> list[Any]:
        async with await psycopg.AsyncConnection.connect(store_dsn, autocommit=True) as conn:
            return [
                await writer.write(conn, readings=first),
                await writer.write(conn, readings=batch),
                await writer.write(conn, readings=[row(now, "c", "x", 1.0),
                                                   row(now + timedelta(days=3), "d", "x", 1.0)]),
                await writer.write(conn, readings=batch),
            ]

    seed, mixed, new_keys, again = run(go())
    assert seed.readings_inserted == 4
    assert (mixed.readings_inserted, mixed.readings_duplicate, mixed.dead_lettered) == (400, 1, 2)
    assert (new_keys.readings_inserted, new_keys.dead_lettered) == (1, 1)
    assert (again.readings_inserted, again.readings_duplicate, again.dead_lettered) == (0, 401, 2)
    latest = [r for r in _latest(store_dsn) if r[0] in ("a", "b")]
    with psycopg.connect(store_dsn) as conn:
        kept = conn.execute(
            "SELECT value FROM readings r JOIN sensors s ON s.key = r.sensor_key JOIN metrics m "
            "ON m.key = r.metric_key WHERE s.id = %s AND m.name = %s AND time = %s",
            (dup.sensor, dup.metric, dup.time)).fetchall()
        sensors = [r[0] for r in conn.execute("SELECT id FROM sensors ORDER BY 1")]
    assert latest == [(s, m, 0.0) for s in "ab" for m in "xy"]  # newest is the i=0 row
    assert len(kept) == 1 and kept != [(999.0,)]  # the first of equal keys is kept
    assert "d" not in sensors and {"a", "b", "c"} <= set(sensors)  # out-of-window: not registered


def test_late_rows_outside_prepared_partitions_are_stored(store_dsn: str) -> None:
    """An edge box back after months (inside the backlog window) stores, never dead-letters,
    its rows: plain PostgreSQL makes the missing partitions first (TimescaleDB makes chunks)."""
    writer = BatchWriter(StoreConfig(max_backlog_days=400))
    old = datetime.now(UTC) - timedelta(days=300)
    events = [make_event(at=old + timedelta(days=i)) for i in range(20)]
    readings = [make_reading(at=old + timedelta(days=i, seconds=1)) for i in range(20)]
    result = run(_write(store_dsn, writer, events=events, readings=readings))
    assert (result.events_inserted, result.readings_inserted, result.dead_lettered) == (20, 20, 0)
    # The writer remembers what exists: a second batch in the same weeks creates nothing.
    again = [make_event(at=old + timedelta(days=i, hours=1)) for i in range(20)]
    assert run(_write(store_dsn, writer, events=again)).events_inserted == 20
    assert _count(store_dsn, "SELECT count(*) FROM events") == 40
    assert _count(store_dsn, "SELECT count(*) FROM dead_letters") == 0
    if not store_layout(store_dsn)["timescaledb"]:
        weeks = _count(
            store_dsn,
            "SELECT count(*) FROM store_partitions('events') "
            "WHERE hi > now() - interval '301 days' AND lo < now() - interval '280 days'",
        )
        assert weeks >= 3


def test_latest_is_exact_while_hints_lag_and_after_a_lost_writer(store_dsn: str) -> None:
    """Hints are written for new series at once and otherwise only every interval; the
    latest query adds what arrived since, so it never lags, not even for a writer that
    died holding hints, whose pending row maintenance folds into the hints."""
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    lagging = BatchWriter(StoreConfig(latest_hint_interval_s=3600))

    def batch(minute: int, value: float) -> list[Any]:
        at = t0 + timedelta(minutes=minute)
        return [make_reading(at=at, sensor=s, metric="pm25", value=value) for s in ("h1", "h2")]

    def table(query: str) -> list[Any]:
        with psycopg.connect(store_dsn) as conn:
            return conn.execute(query).fetchall()

    run(_write(store_dsn, lagging, readings=batch(0, 1.0)))  # new series: hinted at once
    assert table("SELECT count(*) FROM latest_pending") == [(0,)]
    run(_write(store_dsn, lagging, readings=batch(1, 2.0)))  # held in memory
    run(_write(store_dsn, lagging, readings=batch(2, 3.0)))
    assert table("SELECT value FROM latest_readings ORDER BY 1") == [(1.0,), (1.0,)]
    assert table("SELECT since FROM latest_pending") == [(t0 + timedelta(minutes=1),)]
    assert _latest(store_dsn) == [("h1", "pm25", 3.0), ("h2", "pm25", 3.0)]
    # That writer dies holding hints; another one, writing hints every batch, continues.
    eager = BatchWriter(StoreConfig(latest_hint_interval_s=0))
    run(_write(store_dsn, eager, readings=batch(3, 4.0)[:1]))
    assert table("SELECT value FROM latest_readings ORDER BY 1") == [(1.0,), (4.0,)]
    assert _latest(store_dsn) == [("h1", "pm25", 4.0), ("h2", "pm25", 3.0)]
    # Maintenance folds the dead writer's row once it is old enough; nothing is pending.
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        conn.execute("UPDATE latest_pending SET updated_at = now() - interval '1 hour'")

    async def maintain_now() -> int:
        async with await psycopg.AsyncConnection.connect(store_dsn, autocommit=True) as conn:
            return (await maintain(conn, StoreConfig())).latest_hints_folded

    assert run(maintain_now()) == 1
    assert table("SELECT count(*) FROM latest_pending") == [(0,)]
    assert table("SELECT value FROM latest_readings ORDER BY 1") == [(3.0,), (4.0,)]
    assert _latest(store_dsn) == [("h1", "pm25", 4.0), ("h2", "pm25", 3.0)]
