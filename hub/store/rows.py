"""The rows the batch writer stores: the COPY targets of events and readings, and each
record's row in their column order (``hub.store.writer`` writes them; benchmarks build
them to load the store directly)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from adapters.model import EXTRA_FIELDS, NO_EXTRAS, Event, Reading, ReadingRow
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


def payload_of(model: Event | Reading | ReadingRow) -> bytes:
    """The record as JSON for a dead letter, even if it holds something JSON cannot."""
    try:
        if isinstance(model, ReadingRow):
            return orjson.dumps(model._asdict())
        return model.model_dump_json().encode()
    except (TypeError, ValueError):
        return repr(model).encode("utf-8", "backslashreplace")


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
