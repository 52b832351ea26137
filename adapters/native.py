"""cityhub's own wire forms: packs of already-normalised events and readings.

Edge boxes and integrations that already speak cityhub publish
``{"events": [<Event>...]}`` on ``city/{dept}/{site}/{system}/events`` and
``{"readings": [<Reading>...]}`` on ``city/{dept}/{site}/sensor/readings``.
Input formats: adapters/docs/cityhub-events.md and cityhub-readings.md.
Nothing from the wire is trusted: each record is validated again, strictly (a number
given as a string is refused: these packs are made by programs), and a record
that names another department, site or system than its topic is rejected on its
own (the rest of the pack is kept). Absent department/site/system are filled in
from the topic.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.base import Adapted, Adapter, AdapterError, Origin, Reject, validation_reason
from adapters.checks import clean_text
from adapters.jsonsafe import check_depth, load_json
from adapters.model import Event, Reading, Severity, new_event_id
from core.model import SourceSystem

MAX_PACK_BYTES = 8 * 1024 * 1024
MAX_RECORDS = 50_000
#: Size of one event's attributes (JSON) above which the event is rejected.
MAX_ATTRIBUTES_BYTES = 64 * 1024
ATTRIBUTES_DEPTH = 16


class _EventPack(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[Event] = Field(max_length=MAX_RECORDS)


class _ReadingPack(BaseModel):
    model_config = ConfigDict(extra="forbid")
    readings: list[Reading] = Field(max_length=MAX_RECORDS)


def _claim_problem(origin: Origin, department: str, site: str, system: str | None) -> str | None:
    if department != origin.department:
        return f"record claims department {department[:64]!r}, topic says {origin.department!r}"
    if site != origin.site:
        return f"record claims site {site[:64]!r}, topic says {origin.site!r}"
    if system is not None and system != origin.system:
        return f"record claims source_system {system[:32]!r}, topic says {origin.system.value!r}"
    return None


#: Attributes that name a vehicle or a thing: one line (free text may hold line breaks).
SINGLE_LINE_ATTRIBUTES = frozenset({"plate", "trailer_plate", "name", "channel_name"})


def _text_problem(attributes: dict[str, Any]) -> None:
    """AdapterError naming the attribute whose key or text holds control or bidirectional-
    override characters (a plate must read on screen as it is stored)."""
    stack: list[tuple[str, Any]] = [("", attributes)]
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                clean_text(str(k), f"attributes.{str(k)[:40]}", len(str(k)))
                stack.append((str(k), v))
        elif isinstance(value, list):
            stack += [(key, v) for v in value]
        elif isinstance(value, str):
            single = key in SINGLE_LINE_ATTRIBUTES
            clean_text(value, f"attributes.{key[:40]}", len(value), multiline=not single)


def _attributes_problem(event: Event, check_size: bool) -> str | None:
    if not event.attributes:
        return None
    try:
        check_depth(event.attributes, ATTRIBUTES_DEPTH)
        _text_problem(event.attributes)
    except AdapterError as exc:
        return str(exc) if str(exc).startswith("attributes.") else f"attributes: {exc}"
    if check_size and len(json.dumps(event.attributes, default=str)) > MAX_ATTRIBUTES_BYTES:
        return f"attributes exceed {MAX_ATTRIBUTES_BYTES} bytes"
    return None


def _records(payload: bytes, key: str, max_bytes: int) -> list[Any]:
    data = load_json(payload, max_bytes, max_depth=ATTRIBUTES_DEPTH + 4)
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise AdapterError(f'expected a JSON object {{"{key}": [...]}}')
    if set(data) != {key}:
        raise AdapterError(f"unexpected top-level fields: {sorted(set(data) - {key})[:5]}")
    if len(data[key]) > MAX_RECORDS:
        raise AdapterError(f"pack of {len(data[key])} records exceeds {MAX_RECORDS}")
    return data[key]


class CityhubEventsAdapter(Adapter):
    format = "cityhub-events"
    systems = tuple(SourceSystem)
    summary = 'cityhub events, many per message: {"events": [Event, ...]}'
    max_bytes = MAX_PACK_BYTES

    def as_message(self, record: Any) -> Any:
        return {"events": [record]}

    def adapt(self, payload: bytes, origin: Origin) -> Adapted:
        self.check_size(payload)
        out = Adapted()
        try:  # fast path: the whole pack validates in pydantic's core
            events = _EventPack.model_validate_json(payload, strict=True).events
        except ValidationError:
            events = None
        if events is not None:
            big = len(payload) > 2048 * max(1, len(events))
            for ev in events:
                problem = _claim_problem(
                    origin, ev.department, ev.site, ev.source_system
                ) or _attributes_problem(ev, big)
                if problem:
                    out.rejects.append(Reject(problem, ev.model_dump(mode="json")))
                else:
                    out.events.append(ev)
            return out
        for rec in _records(payload, "events", self.max_bytes):  # slow path, record by record
            if not isinstance(rec, dict):
                out.rejects.append(Reject("record is not a JSON object", rec))
                continue
            filled = {
                "department": origin.department,
                "site": origin.site,
                "source_system": origin.system.value,
                **rec,
            }
            problem = _claim_problem(
                origin, str(filled["department"]), str(filled["site"]), str(filled["source_system"])
            )
            if problem:
                out.rejects.append(Reject(problem, rec))
                continue
            try:
                ev = Event.model_validate_json(json.dumps(filled), strict=True)
            except ValidationError as exc:
                out.rejects.append(Reject(validation_reason(exc), rec))
                continue
            if problem := _attributes_problem(ev, True):
                out.rejects.append(Reject(problem, rec))
            else:
                out.events.append(ev)
        return out

    def simulate(self, rng: random.Random, origin: Origin, now: datetime, count: int = 50) -> bytes:
        kinds = ["motion", "intrusion", "line_crossing", "loitering", "crowd"]
        events = []
        for _ in range(count):
            t = now - timedelta(milliseconds=rng.randint(0, 1000))
            events.append(
                {
                    "id": str(new_event_id()),
                    "occurred_at": t.isoformat(),
                    "source_system": origin.system.value,
                    "kind": rng.choice(kinds),
                    "severity": int(rng.choice(list(Severity))),
                    "department": origin.department,
                    "site": origin.site,
                    "camera": f"{origin.site}-cam{rng.randint(1, 4)}",
                    "attributes": {
                        "zone": f"z{rng.randint(1, 6)}",
                        "score": round(rng.random(), 3),
                        "track_id": rng.randrange(10**6),
                    },
                }
            )
        return json.dumps({"events": events}, separators=(",", ":")).encode("utf-8")


class CityhubReadingsAdapter(Adapter):
    format = "cityhub-readings"
    systems = (SourceSystem.sensor,)
    summary = 'cityhub readings, many per message: {"readings": [Reading, ...]}'
    max_bytes = MAX_PACK_BYTES

    def as_message(self, record: Any) -> Any:
        return {"readings": [record]}

    def adapt(self, payload: bytes, origin: Origin) -> Adapted:
        self.check_size(payload)
        out = Adapted()
        try:
            readings = _ReadingPack.model_validate_json(payload, strict=True).readings
        except ValidationError:
            readings = None
        if readings is not None:
            for r in readings:
                if problem := _claim_problem(origin, r.department, r.site, None):
                    out.rejects.append(Reject(problem, r.model_dump(mode="json")))
                else:
                    out.readings.append(r)
            return out
        for rec in _records(payload, "readings", self.max_bytes):
            if not isinstance(rec, dict):
                out.rejects.append(Reject("record is not a JSON object", rec))
                continue
            filled = {"department": origin.department, "site": origin.site, **rec}
            if problem := _claim_problem(
                origin, str(filled["department"]), str(filled["site"]), None
            ):
                out.rejects.append(Reject(problem, rec))
                continue
            try:
                # JSON mode, as the pack path: data values are base64 there too.
                out.readings.append(Reading.model_validate_json(json.dumps(filled), strict=True))
            except ValidationError as exc:
                out.rejects.append(Reject(validation_reason(exc), rec))
        return out

    def simulate(
        self, rng: random.Random, origin: Origin, now: datetime, count: int = 100
    ) -> bytes:
        readings = [
            {
                "time": (now - timedelta(milliseconds=i)).isoformat(),
                "sensor": f"{origin.site}-s{rng.randint(1, 20)}",
                "metric": rng.choice(["pm25", "temp"]),
                "value": round(rng.uniform(0, 100), 2),
                "department": origin.department,
                "site": origin.site,
            }
            for i in range(count)
        ]
        return json.dumps({"readings": readings}, separators=(",", ":")).encode("utf-8")
