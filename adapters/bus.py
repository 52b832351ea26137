"""Smart-bus position reports: GPS, speed, heading, route, doors, passenger counts.

Input format: adapters/docs/bus.md. Each report becomes one ``bus_position`` event
(``bus_door_open``/``bus_door_close`` when the report is a door change) plus
readings (speed, heading, passengers on board) under the vehicle as sensor, so
that positions are queryable as events and speeds/loads chart as time series.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.base import Adapted, Adapter, AdapterError, Origin, stable_event_id, validation_reason
from adapters.jsonform import NativeRecord, WireTime, load_record
from adapters.model import Event, Reading, ReadingRow, Severity
from core.model import Ident, Location, SourceSystem


class Passengers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    boarded: int = Field(0, ge=0, le=500)
    alighted: int = Field(0, ge=0, le=500)
    onboard: int | None = Field(None, ge=0, le=500)


class BusReport(NativeRecord):
    """One report from a bus's on-board unit (fields documented in docs/bus.md)."""

    vehicle: Ident
    route: str = Field(min_length=1, max_length=32)
    time: WireTime
    position: Location
    speed_kmh: float = Field(ge=0, le=200)
    heading_deg: float = Field(ge=0, lt=360)
    stop_id: str | None = Field(None, max_length=32)
    door: Literal["open", "closed"] | None = None
    door_event: bool = Field(False, description="true when this report is sent for a door change")
    passengers: Passengers | None = None
    driver_alarm: bool = False


class BusAdapter(Adapter):
    format = "bus"
    systems = (SourceSystem.bus,)
    summary = "bus position report: GPS, speed, heading, route, door state, passenger counts"

    def adapt(self, payload: bytes, origin: Origin) -> Adapted:
        r = load_record(BusReport, payload, origin, self.max_bytes)
        kind = "bus_position"
        if r.door_event and r.door:
            kind = "bus_door_open" if r.door == "open" else "bus_door_close"
        if r.driver_alarm:
            kind = "bus_driver_alarm"
        attrs: dict[str, Any] = r.model_dump(
            include={"vehicle", "route", "speed_kmh", "heading_deg", "stop_id", "door"},
            exclude_none=True,
        )
        if r.passengers:
            attrs["passengers"] = r.passengers.model_dump(exclude_none=True)
        if extra := r.extra():
            attrs["extra"] = extra
        try:
            event = Event(
                id=stable_event_id(
                    r.time, "bus", origin.department, r.vehicle, kind, r.time.isoformat()
                ),
                occurred_at=r.time,
                source_system=origin.system,
                kind=kind,
                severity=Severity.critical if r.driver_alarm else Severity.info,
                department=origin.department,
                site=origin.site,
                device=r.vehicle,
                location=r.position,
                attributes=attrs,
            )
            readings: list[Reading | ReadingRow] = [
                Reading(
                    time=r.time,
                    sensor=r.vehicle,
                    metric="speed",
                    value=r.speed_kmh,
                    unit="km/h",
                    department=origin.department,
                    site=origin.site,
                ),
                Reading(
                    time=r.time,
                    sensor=r.vehicle,
                    metric="heading",
                    value=r.heading_deg,
                    unit="deg",
                    department=origin.department,
                    site=origin.site,
                ),
            ]
            if r.passengers and r.passengers.onboard is not None:
                readings.append(
                    Reading(
                        time=r.time,
                        sensor=r.vehicle,
                        metric="passengers_onboard",
                        value=r.passengers.onboard,
                        unit="count",
                        department=origin.department,
                        site=origin.site,
                    )
                )
        except ValidationError as exc:
            raise AdapterError(validation_reason(exc)) from None
        return Adapted(events=[event], readings=readings)

    def simulate(self, rng: random.Random, origin: Origin, now: datetime) -> bytes:
        route = rng.choice(["101", "102", "45", "K7"])
        vehicle = f"bus-{route}-{rng.randint(1, 12):02d}"
        at_stop = rng.random() < 0.2
        boarded, alighted = (rng.randint(0, 8), rng.randint(0, 8)) if at_stop else (0, 0)
        t = now - timedelta(microseconds=rng.randint(0, 900_000))
        report: dict[str, Any] = {
            "vehicle": vehicle,
            "route": route,
            "time": t.isoformat(),
            "position": {
                "lat": round(30.67 + rng.uniform(-0.03, 0.03), 6),
                "lon": round(104.09 + rng.uniform(-0.03, 0.03), 6),
            },
            "speed_kmh": 0.0 if at_stop else round(rng.uniform(5, 55), 1),
            "heading_deg": round(rng.uniform(0, 359.9), 1),
            "door": "open" if at_stop else "closed",
            "door_event": at_stop,
            "passengers": {"boarded": boarded, "alighted": alighted, "onboard": rng.randint(3, 70)},
            "odometer_km": round(rng.uniform(1000, 90000), 1),
        }
        if at_stop:
            report["stop_id"] = f"S{rng.randint(1, 40):03d}"
        return json.dumps(report).encode("utf-8")
