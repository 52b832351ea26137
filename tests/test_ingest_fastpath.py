"""The SenML fast path (tuples, no model per record) keeps every rule of ``Reading``.

Rows it yields must be exactly what ``Reading`` would have made of them, records the model
would refuse are refused with the model's reason, and the store writes the tuples (binary
COPY) with the same dedupe and dead-letter guarantees as models.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import orjson
import psycopg

from adapters.model import ReadingRow
from devkit.fixtures.store import run
from hub.ingest.pipeline import adapt_message
from hub.store.writer import BatchWriter

TOPIC = "city/citymgmt/xinhua-5th/sensor/readings"
NOW = datetime.now(UTC)


def _adapt(pack: list[dict[str, object]]):
    return adapt_message(TOPIC, json.dumps(pack).encode(), NOW)


def test_rows_are_what_the_model_makes_of_them() -> None:
    t0 = round(time.time() - 60, 3)
    pack = [
        {"bn": "aq-1/", "bt": t0, "bu": " Cel ", "n": "temp", "v": 21},  # padded unit: stripped
        {"n": "temp", "t": 1, "v": 21.5},
        {"n": "fan", "t": 2, "vb": True},
        {"n": "rain", "t": 3, "s": 4.25},
    ]
    out = _adapt(pack)
    assert not out.letters
    assert all(type(r) is ReadingRow for r in out.readings)
    for row in out.readings:
        assert row.to_model().model_dump() == row._asdict()
    got = [
        (r.sensor, r.metric, r.value, r.unit, r.time.timestamp(), r.value_bool, r.sum)
        for r in out.readings
    ]
    assert got == [
        ("aq-1", "temp", 21.0, "Cel", t0, None, None),
        ("aq-1", "temp", 21.5, "Cel", t0 + 1, None, None),
        ("aq-1", "fan", None, "Cel", t0 + 2, True, None),
        ("aq-1", "rain", None, "Cel", t0 + 3, None, 4.25),
    ]
    assert all(r.time.tzinfo is UTC for r in out.readings)


def test_records_the_model_refuses_are_refused_with_its_reason() -> None:
    t0 = round(time.time() - 60, 3)
    long_metric = "m" * 65  # one more than the model allows
    pack = [
        {"bn": "s" * 70 + "/", "bt": t0, "n": "temp", "v": 1},  # sensor longer than 64
        {"n": "temp", "t": 1, "v": 2},  # the same refused name again (cached refusal)
        {"bn": "ok-1/", "n": "temp", "v": 3, "u": "x" * 40},  # unit longer than 32
        {"n": long_metric, "s": 1.0},
        {"bv": 1e308, "n": "temp", "t": 2, "v": 1e308},  # overflows to infinity
        {"bv": 0.0, "n": "temp", "t": 3, "v": 4},  # good
        {"n": "temp", "t": 4, "v": 5, "u": {"not": "a unit"}},
        {"n": "temp", "t": 5, "v": 6, "u": 7},
    ]
    out = _adapt(pack)
    assert [(r.sensor, r.metric, r.value) for r in out.readings] == [("ok-1", "temp", 4.0)]
    reasons = [letter.reason for letter in out.letters]
    assert len(reasons) == 7
    assert reasons[0].startswith("sensor:") and reasons[1] == reasons[0]
    assert reasons[2].startswith("unit:")
    assert reasons[3].startswith("metric:")
    assert reasons[4].startswith("value:") and "finite" in reasons[4]
    assert reasons[5].startswith("unit:") and reasons[6].startswith("unit:")
    # Each refused record is kept whole for inspection, as a pack of its own.
    assert json.loads(out.letters[2].payload)[0]["u"] == "x" * 40


def _rows(n: int, start: datetime) -> list[ReadingRow]:
    return [
        ReadingRow(
            start + timedelta(microseconds=137 * i),
            f"fp-{i % 7}",
            "temp",
            20.0 + i / 3,
            "Cel",
            0,
            "citymgmt",
            "xinhua-5th",
        )
        for i in range(n)
    ]


def test_writer_stores_rows_once_and_dead_letters_late_ones(store_dsn: str) -> None:
    rows = _rows(300, datetime.now(UTC) - timedelta(minutes=30))
    too_old = rows[0]._replace(time=datetime.now(UTC) - timedelta(days=400))

    async def write(batch: list[ReadingRow]):
        async with await psycopg.AsyncConnection.connect(store_dsn) as conn:
            return await BatchWriter().write(conn, readings=batch)

    twice = rows[5]._replace(value=-1.0)  # same sensor, metric and time later in the batch
    first = run(write([*rows, too_old, twice]))
    assert (first.readings_inserted, first.readings_duplicate, first.dead_lettered) == (300, 1, 1)
    again = run(write(rows[:100] + _rows(350, rows[0].time)[300:]))  # redelivery + 50 new
    assert (again.readings_inserted, again.readings_duplicate) == (50, 100)
    with psycopg.connect(store_dsn) as conn:
        stored = conn.execute(
            "SELECT s.id, r.time, r.value FROM readings r JOIN sensors s ON s.key = r.sensor_key "
            "ORDER BY r.time"
        ).fetchall()
        letter = conn.execute("SELECT reason, payload FROM dead_letters").fetchone()
    expected = [(r.sensor, r.time, r.value) for r in _rows(350, rows[0].time)]
    assert stored == expected  # binary COPY: exact microseconds and float values; first kept
    assert letter is not None and "older than the accepted backlog" in letter[0]
    assert orjson.loads(letter[1])["readings"][0]["sensor"] == too_old.sensor
