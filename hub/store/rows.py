"""The rows the batch writer stores: the COPY targets of events and readings, and each
record's row in their column order (``hub.store.writer`` writes them; benchmarks build
them to load the store directly)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from adapters.model import EXTRA_FIELDS, NO_EXTRAS, Event, Reading, ReadingRow
from core.topics import events_topic, readings_topic
from hub.store.copyin import CopyTarget, Row

EVENTS = CopyTarget(
    "events",
    [
        "id",
        "occurred_at",
        "received_at",
        "source_system",
        "kind",
        "severity",
        "department_id",
        "site_id",
        "camera_id",
        "device_id",
        "lat",
        "lon",
        "attributes",
        "media",
    ],
    key=["id"],
    unique=["id", "occurred_at"],
)
READINGS = CopyTarget(
    "readings",
    ["time", "sensor_key", "metric_key", "value", "quality"],
    key=["sensor_key", "metric_key", "time"],
    unique=["sensor_key", "metric_key", "time"],
    types=["timestamptz", "int4", "int4", "float8", "int2"],
)

#: Readings with a sum, boolean, string, data or update time (or no number): all columns.
#: Plain numeric readings keep the narrow ``READINGS`` rows (the common, fastest COPY).
READINGS_FULL = CopyTarget(
    "readings",
    [*READINGS.columns, *EXTRA_FIELDS],
    key=READINGS.key,
    unique=["sensor_key", "metric_key", "time"],
    types=[*(READINGS.types or []), "float8", "bool", "text", "bytea", "float8"],
)

WIM_INSERT = (
    "INSERT INTO wim_records (event_id, occurred_at, station, lane, plate, gross_kg, axle_count, "
    "axle_weights_kg, speed_kmh, calibration_id, limit_kg, overweight, excess_ratio) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)


class Unstorable(ValueError):
    """A row that cannot be stored, found before the database sees it."""


def _json(value: Any) -> str:
    try:
        blob = orjson.dumps(value)  # NaN/inf become null; huge ints, lone surrogates raise
    except (TypeError, ValueError) as exc:
        raise Unstorable(f"attributes are not storable JSON: {exc}") from exc
    if b"\\u0000" in blob:
        raise Unstorable("attributes contain a NUL character (PostgreSQL jsonb refuses it)")
    return blob.decode()


def letter_of(model: Event | Reading | ReadingRow, label: str) -> tuple[str, bytes]:
    """A record the store refused as its dead letter's (topic, payload): a message of one
    record in the cityhub format on its own department's and site's topic, so that
    ``cityhub ingest replay`` adapts it again as it would have been received. A record that
    does not make one (no topic for its names, not JSON-able) keeps ``label`` and its repr."""
    try:
        if isinstance(model, Event):
            topic = events_topic(model.department, model.site, model.source_system)
            return topic, b'{"events":[' + model.model_dump_json().encode() + b"]}"
        reading = Reading.model_construct(**model._asdict()) if isinstance(model, ReadingRow) \
            else model
        topic = readings_topic(reading.department, reading.site)
        return topic, b'{"readings":[' + reading.model_dump_json().encode() + b"]}"
    except (TypeError, ValueError):
        return label, repr(model).encode("utf-8", "backslashreplace")


def event_row(e: Event, received_at: datetime) -> Row:
    """The ``events`` row of an event, in ``EVENTS.columns`` order."""
    loc = e.location
    return (
        e.id,
        e.occurred_at,
        received_at,
        e.source_system.value,
        e.kind,
        int(e.severity),
        e.department,
        e.site,
        e.camera,
        e.device,
        loc.lat if loc else None,
        loc.lon if loc else None,
        _json(e.attributes) if e.attributes else "{}",
        _json([m.model_dump(exclude_none=True) for m in e.media]) if e.media else "[]",
    )


def wim_row(e: Event) -> tuple[Any, ...]:
    """The ``wim_records`` row of a weigh-in-motion event, in ``WIM_INSERT`` order."""
    w = e.wim
    assert w is not None
    return (
        e.id,
        e.occurred_at,
        w.station,
        w.lane,
        w.plate,
        w.gross_kg,
        w.axle_count,
        w.axle_weights_kg,
        w.speed_kmh,
        w.calibration_id,
        w.limit_kg,
        w.overweight,
        w.excess_ratio,
    )


def reading_row(r: Reading | ReadingRow, sensors: dict[str, int], metrics: dict[str, int]) -> Row:
    """A ``READINGS`` row for a plain number, else a ``READINGS_FULL`` row."""
    extras = r.extras
    if extras == NO_EXTRAS and r.value is not None:
        return (r.time, sensors[r.sensor], metrics[r.metric], r.value, r.quality)
    return (r.time, sensors[r.sensor], metrics[r.metric], r.value, r.quality, *extras)
