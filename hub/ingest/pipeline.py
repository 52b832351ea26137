"""Pure logic of ingest: one MQTT message in, rows and dead letters out.

No I/O here, so it is tested without a broker and runs in the worker's
processing thread. Every failure becomes a dead letter with a reason: a
broken payload never raises out of ``adapt_message``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from adapters import registry
from adapters.base import (
    Adapted,
    Adapter,
    AdapterError,
    Origin,
    stable_event_id,
    validation_reason,
)
from adapters.checks import parse_time
from adapters.jsonsafe import load_json
from adapters.model import Event, Reading, ReadingRow, Severity
from core.discovery import DiscoveryReport
from core.topics import Route, TopicError, parse
from hub.store.media import MediaBlob
from hub.store.pending_cameras import Discovered

log = logging.getLogger(__name__)
#: Largest dead-letter payload kept (the reason says when it was cut).
MAX_DEAD_LETTER_BYTES = 1024 * 1024
CHINA_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Letter:
    """A payload (or one record of it) that could not be stored, with why."""

    topic: str
    reason: str
    payload: bytes


@dataclass
class Outcome:
    events: list[Event] = field(default_factory=list)
    #: SenML packs yield ``ReadingRow`` tuples (validated without a model per record).
    readings: list[Reading | ReadingRow] = field(default_factory=list)
    letters: list[Letter] = field(default_factory=list)
    media: list[MediaBlob] = field(default_factory=list)
    discoveries: list[Discovered] = field(default_factory=list)


#: Largest picture or clip accepted from an edge box.
MAX_MEDIA_BYTES = 32 * 1024 * 1024
#: What edge boxes send: recognised by content, never by what the sender claims.
_MAGIC = ((b"\xff\xd8\xff", 0, "image/jpeg"), (b"ftyp", 4, "video/mp4"))


def _media(route: Route, payload: bytes, origin: Origin) -> MediaBlob:
    sha = route.format or ""
    if len(payload) > MAX_MEDIA_BYTES:
        raise AdapterError(f"media of {len(payload)} bytes exceeds {MAX_MEDIA_BYTES}")
    if hashlib.sha256(payload).hexdigest() != sha:
        raise AdapterError("media content does not match the sha256 in its topic")
    for magic, at, content_type in _MAGIC:
        if payload[at : at + len(magic)] == magic:
            return MediaBlob(sha, content_type, payload, origin.department, origin.site)
    raise AdapterError("media is neither a JPEG picture nor an MP4 clip")


def _letter(topic: str, reason: str, payload: bytes) -> Letter:
    if len(payload) > MAX_DEAD_LETTER_BYTES:
        reason = f"{reason} [payload cut from {len(payload)} bytes]"
        payload = payload[:MAX_DEAD_LETTER_BYTES]
    return Letter(topic[:1024], reason[:1000], payload)


def _record_bytes(record: Any) -> bytes:
    try:
        return json.dumps(record, ensure_ascii=False, default=str).encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        return repr(record)[:MAX_DEAD_LETTER_BYTES].encode("utf-8", "replace")


_SENSOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_HEALTH_METRICS = 200


def _numbers(data: dict[str, Any]) -> list[tuple[str, float]]:
    """Numeric leaves of a health report as (dotted.name, value); booleans as 1/0."""
    out: list[tuple[str, float]] = []
    stack: list[tuple[str, Any]] = [("", data)]
    while stack and len(out) < MAX_HEALTH_METRICS:
        prefix, node = stack.pop()
        if isinstance(node, dict):
            stack.extend((f"{prefix}{k}.", v) for k, v in node.items())
        elif isinstance(node, bool):
            out.append((prefix[:-1][:64], 1.0 if node else 0.0))
        elif isinstance(node, int | float) and math.isfinite(node):
            out.append((prefix[:-1][:64], float(node)))
    return [(n, v) for n, v in out if n]


def _edge(route: Route, payload: bytes, origin: Origin) -> Adapted:
    """Edge-box status (retained online/offline, last will) and health heartbeats."""
    data = load_json(payload, 64 * 1024, max_depth=6)
    if not isinstance(data, dict):
        raise AdapterError("edge status/health must be a JSON object")
    at = data.get("time") or data.get("at")
    when = parse_time(at, origin.local_tz) if at else origin.received_at
    if route.kind == "status":
        state = str(data.get("state", ""))[:32]
        if state not in ("online", "offline"):
            raise AdapterError("edge status needs state online|offline")
        event = Event(
            id=stable_event_id(when, "edge-status", origin.department, origin.site, payload),
            occurred_at=when,
            source_system=origin.system,
            kind=f"edge_{state}",
            severity=Severity.major if state == "offline" else Severity.info,
            department=origin.department,
            site=origin.site,
            attributes={k: v for k, v in data.items() if k not in ("time", "at")},
        )
        return Adapted(events=[event])
    device = data.get("device")
    sensor = device if isinstance(device, str) and _SENSOR.match(device) else f"edge.{origin.site}"
    readings: list[Reading | ReadingRow] = [
        Reading(
            time=when,
            sensor=sensor[:64],
            metric=name,
            value=value,
            department=origin.department,
            site=origin.site,
        )
        for name, value in _numbers(data)
    ]
    return Adapted(readings=readings)


MAX_DISCOVERY_REPORTS = 1000


def _discovery(topic: str, payload: bytes, origin: Origin, out: Outcome) -> None:
    """An edge box's ``{"discovery": [report, ...]}``: each valid report a pending camera of
    the topic's department and site; each invalid one a dead letter."""
    data = load_json(payload, 1024 * 1024, max_depth=6)
    reports = data.get("discovery") if isinstance(data, dict) else None
    if not isinstance(reports, list) or len(reports) > MAX_DISCOVERY_REPORTS:
        raise AdapterError(f'a discovery pack is {{"discovery": [report, ...]}} (at most '
                           f"{MAX_DISCOVERY_REPORTS} reports)")
    for record in reports:
        try:
            report = DiscoveryReport.model_validate(record)
        except ValidationError as exc:
            alone = _record_bytes({"discovery": [record]})  # a pack of its own (replayable)
            out.letters.append(_letter(topic, validation_reason(exc), alone))
            continue
        out.discoveries.append(Discovered(origin.department, origin.site, report))


def _adapter_of(route: Route, payload: bytes) -> Adapter:
    if route.kind == "events":
        return registry.get("cityhub-events")
    if route.kind == "readings":  # SenML packs are arrays, cityhub packs objects
        return registry.get("senml" if payload.lstrip()[:1] == b"[" else "cityhub-readings")
    adapter = registry.get(route.format or "")
    if route.system not in adapter.systems:
        raise AdapterError(
            f"format {adapter.format!r} is not accepted on {route.system.value!r} topics"
        )
    return adapter


def adapt_message(
    topic: str,
    payload: bytes,
    received_at: datetime,
    local_tz: tzinfo = CHINA_TZ,
    retained: bool = False,
) -> Outcome:
    """Route by topic, adapt with the registered adapter, split good rows from dead letters."""
    out = Outcome()
    try:
        route = parse(topic)
        origin = Origin(route.department, route.site, route.system, received_at, local_tz)
        if route.kind == "config" or (route.kind == "status" and retained):
            # Configuration is pushed down to edge boxes; a retained status is a replay of a
            # state stored when it was published live.
            return out
        if route.kind == "media":
            out.media.append(_media(route, payload, origin))
            return out
        if route.kind == "discovery":
            _discovery(topic, payload, origin, out)
            return out
        adapter = None
        if route.kind in ("status", "health"):
            adapted = _edge(route, payload, origin)
        else:
            adapter = _adapter_of(route, payload)
            adapted = adapter.adapt(payload, origin)
        beats = [h.reading(origin) for h in adapted.heartbeats]
    except (TopicError, AdapterError) as exc:
        out.letters.append(_letter(topic, str(exc), payload))
        return out
    except ValidationError as exc:
        out.letters.append(_letter(topic, validation_reason(exc), payload))
        return out
    except Exception as exc:  # an adapter bug must not stop ingest nor lose the payload
        log.exception("adapter failed on %s", topic[:200])
        out.letters.append(_letter(topic, f"adapter error: {type(exc).__name__}", payload))
        return out
    out.events = adapted.events
    out.readings += adapted.readings
    out.readings += beats
    for reject in adapted.rejects:  # a record alone: a message of its own format
        body = payload if reject.record is None or adapter is None \
            else _record_bytes(adapter.as_message(reject.record))
        out.letters.append(_letter(topic, reject.reason, body))
    return out
