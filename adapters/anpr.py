"""ANPR plate reads in cityhub's JSON form (for cameras/platforms that do not speak ISAPI).

Input format: adapters/docs/anpr-json.md. One record is one ``plate_read`` event.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from adapters.base import Adapted, Adapter, Origin, origin_event, stable_event_id
from adapters.jsonform import NativeRecord, WireTime, load_record
from adapters.model import MediaRef, Severity
from core.model import Ident, Location, SourceSystem

PlateColor = Literal["blue", "yellow", "green", "white", "black", "yellow-green", "unknown"]


class PlateRead(NativeRecord):
    """The JSON form of one plate read (documented field by field in docs/anpr-json.md)."""

    read_id: str | None = Field(None, max_length=64)
    time: WireTime
    camera: Ident | None = None
    plate: str = Field(min_length=1, max_length=16)
    plate_color: PlateColor = "unknown"
    vehicle_type: str | None = Field(None, max_length=32)
    vehicle_color: str | None = Field(None, max_length=32)
    speed_kmh: float | None = Field(None, ge=0, le=400, strict=True)
    speed_limit_kmh: float | None = Field(None, gt=0, le=200, strict=True)
    lane: int | None = Field(None, ge=0, le=32, strict=True)
    direction: str | None = Field(None, max_length=32)
    confidence: float | None = Field(None, ge=0, le=1, strict=True)
    location: Location | None = None
    pictures: list[MediaRef] = Field(default_factory=list, max_length=16)


class AnprJsonAdapter(Adapter):
    format = "anpr-json"
    systems = (SourceSystem.traffic,)
    summary = "ANPR plate read as JSON: plate, colours, vehicle, speed, lane, direction, pictures"

    def adapt(self, payload: bytes, origin: Origin) -> Adapted:
        r = load_record(PlateRead, payload, origin, self.max_bytes)
        speeding = (
            r.speed_kmh is not None
            and r.speed_limit_kmh is not None
            and r.speed_kmh > r.speed_limit_kmh
        )
        attrs = r.model_dump(
            include={
                "read_id",
                "plate",
                "plate_color",
                "vehicle_type",
                "vehicle_color",
                "speed_kmh",
                "speed_limit_kmh",
                "lane",
                "direction",
                "confidence",
            },
            exclude_none=True,
        )
        if speeding:
            attrs["speeding"] = True
        if extra := r.extra():
            attrs["extra"] = extra
        key = r.read_id or payload
        event = origin_event(
            origin,
            id=stable_event_id(r.time, "anpr", origin.department, origin.site, key),
            occurred_at=r.time,
            kind="plate_read",
            severity=Severity.minor if speeding else Severity.info,
            camera=r.camera,
            location=r.location,
            attributes=attrs,
            media=r.pictures,
        )
        return Adapted(events=[event])

    def simulate(self, rng: random.Random, origin: Origin, now: datetime) -> bytes:
        plate = "川A" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(5))
        t = now - timedelta(milliseconds=rng.randint(0, 300))
        read_id = f"{origin.site}-{int(t.timestamp() * 1000)}-{rng.randrange(10**6)}"
        return json.dumps(
            {
                "read_id": read_id,
                "time": t.isoformat(),
                "plate": plate,
                "plate_color": rng.choice(["blue", "yellow", "green"]),
                "vehicle_type": rng.choice(["car", "suv", "truck", "bus", "van"]),
                "vehicle_color": rng.choice(["white", "black", "silver", "red", "blue"]),
                "speed_kmh": round(rng.uniform(10, 85), 1),
                "speed_limit_kmh": 60,
                "lane": rng.randint(1, 4),
                "direction": rng.choice(["northbound", "southbound"]),
                "confidence": round(rng.uniform(0.8, 1.0), 3),
                "pictures": [
                    {
                        "kind": "plate",
                        "uri": f"anpr://{origin.site}/{read_id}/plate.jpg",
                        "content_type": "image/jpeg",
                    }
                ],
            },
            ensure_ascii=False,
        ).encode("utf-8")
