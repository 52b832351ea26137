"""SenML value types and ISAPI keep-alives through the real store and the real ingest path.

Store: both layouts (TimescaleDB hypertables with compression, plain partitions).
Ingest: real Mosquitto, real PostgreSQL, real ``cityhub ingest`` processes.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from adapters.base import HEARTBEAT_METRIC
from adapters.model import ReadingRow
from devkit.embedded import EmbeddedBroker
from devkit.fixtures.ingest import publish_all, wait_count
from devkit.fixtures.store import run
from hub.store.filters import SeriesQuery
from hub.store.queries import latest_readings, reading_series
from hub.store.visibility import Visibility
from hub.store.writer import BatchWriter

DEPT, SITE = "citymgmt", "river-park"


def _row(at: datetime, metric: str, value: float | None, **extra: Any) -> ReadingRow:
    return ReadingRow(at, "meter-7", metric, value, None, 0, DEPT, SITE)._replace(**extra)


def test_store_keeps_every_value_type_in_both_layouts(store_dsn: str) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    rows = [
        _row(t0, "energy", 3.5, sum=120.25, update_s=60.0),
        _row(t0, "door", None, value_bool=False),
        _row(t0, "state", None, value_text="  Stolen "),
        _row(t0, "blob", None, value_data=b"\x00\xff"),
        _row(t0, "temp", 21.5),
        _row(t0 + timedelta(seconds=1), "temp", 21.75),
        _row(t0 + timedelta(seconds=2), "energy", None, sum=130.0),  # a sum alone
    ]

    async def write_and_query():
        async with await psycopg.AsyncConnection.connect(store_dsn) as conn:
            first = await BatchWriter().write(conn, readings=rows)
            again = await BatchWriter().write(conn, readings=rows)  # redelivery
            latest = await latest_readings(conn, Visibility.everything())
            vis, end = Visibility.everything(), t0 + timedelta(hours=1)
            door = await reading_series(
                conn, SeriesQuery(sensor="meter-7", metric="door", start=t0, end=end), vis
            )
            energy = await reading_series(
                conn,
                SeriesQuery(sensor="meter-7", metric="energy", start=t0, end=end, bucket="minute"),
                vis,
            )
            return first, again, latest, door, energy

    first, again, latest, door, energy = run(write_and_query())
    assert (first.readings_inserted, first.dead_lettered) == (7, 0)
    assert (again.readings_inserted, again.readings_duplicate) == (0, 7)
    with psycopg.connect(store_dsn) as conn:
        stored = conn.execute(
            "SELECT m.name, r.value, r.sum, r.value_bool, r.value_text, r.value_data, r.update_s "
            "FROM readings r JOIN metrics m ON m.key = r.metric_key ORDER BY m.name, r.time"
        ).fetchall()
    assert stored == [
        ("blob", None, None, None, None, b"\x00\xff", None),
        ("door", None, None, False, None, None, None),
        ("energy", 3.5, 120.25, None, None, None, 60.0),
        ("energy", None, 130.0, None, None, None, None),
        ("state", None, None, None, "  Stolen ", None, None),
        ("temp", 21.5, None, None, None, None, None),
        ("temp", 21.75, None, None, None, None, None),
    ]
    assert {(r.metric, r.value) for r in latest} >= {("temp", 21.75), ("door", None)}
    assert door == []  # a boolean series has no numeric points
    # A bucket mixing a number and a sum alone: statistics of the numbers only (from the
    # continuous aggregates on TimescaleDB, from raw rows on plain PostgreSQL).
    assert [(p.n, p.avg, p.min, p.max) for p in energy] == [(1, 3.5, 3.5, 3.5)]


def test_keep_alives_and_senml_values_arrive_through_ingest(
    migrated_dsn: str, private_broker: EmbeddedBroker, ingest_workers
) -> None:
    workers = ingest_workers(migrated_dsn, private_broker.url)
    workers.start(0)
    keep_alive = (
        b'<?xml version="1.0" encoding="UTF-8"?><EventNotificationAlert version="2.0">'
        b"<ipAddress>10.20.5.40</ipAddress><macAddress>44:19:b6:6d:24:90</macAddress>"
        b"<dateTime>2025-03-14T19:30:00+08:00</dateTime><activePostCount>0</activePostCount>"
        b"<eventType>videoloss</eventType><eventState>inactive</eventState>"
        b"</EventNotificationAlert>"
    )
    t = round(time.time() - 5, 3)
    pack = [
        {"bn": "meter-7/", "bt": t, "n": "energy", "u": "kWh", "v": 3.5, "s": 120.25},
        {"n": "door", "vb": True, "t": -1},
        {"n": "state", "vs": "ok", "t": -2},
    ]
    before = datetime.now(UTC)
    publish_all(
        private_broker.url,
        [
            ("city/police/xinhua-5th/safecity/native/isapi", keep_alive),
            (f"city/{DEPT}/{SITE}/sensor/readings", json.dumps(pack).encode()),
        ],
        "test-values",
    )
    wait_count(migrated_dsn, "SELECT count(*) FROM readings", 4, workers=workers)
    with psycopg.connect(migrated_dsn) as conn:
        events = conn.execute("SELECT count(*) FROM events").fetchone()
        seen = conn.execute(
            "SELECT s.id, s.site_id, l.time FROM latest_readings l "
            "JOIN sensors s ON s.key = l.sensor_key JOIN metrics m ON m.key = l.metric_key "
            "WHERE m.name = %s",
            (HEARTBEAT_METRIC,),
        ).fetchone()
        values = conn.execute(
            "SELECT m.name, r.value, r.sum, r.value_bool, r.value_text FROM readings r "
            "JOIN metrics m ON m.key = r.metric_key WHERE m.name <> %s ORDER BY r.time",
            (HEARTBEAT_METRIC,),
        ).fetchall()
    assert events == (0,)  # a keep-alive is not an event
    assert seen is not None and seen[:2] == ("4419b66d2490", "xinhua-5th")
    assert seen[2] >= before - timedelta(seconds=1)  # the hub's receive time, not the camera's
    assert values == [
        ("state", None, None, None, "ok"),
        ("door", None, None, True, None),
        ("energy", 3.5, 120.25, None, None),
    ]
    assert workers.alive(0), workers.log(0)


def test_reading_values_migration_downgrades_and_upgrades(store_dsn: str) -> None:
    from hub.store import migrate

    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)

    async def write() -> None:
        async with await psycopg.AsyncConnection.connect(store_dsn) as conn:
            await BatchWriter().write(
                conn, readings=[_row(t0, "temp", 20.0), _row(t0, "door", None, value_bool=True)]
            )

    run(write())
    migrate.downgrade(store_dsn, "0006_media")
    with psycopg.connect(store_dsn) as conn:
        assert conn.execute("SELECT count(*), min(value) FROM readings").fetchone() == (1, 20.0)
    migrate.upgrade(store_dsn)
    run(write())  # the boolean reading is stored again
    with psycopg.connect(store_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (2,)
