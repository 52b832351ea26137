"""Weigh-in-motion (overload checking) per-vehicle records.

Input format: adapters/docs/wim.md. The adapter judges each vehicle against the
GB 1589-2016 gross-mass limit for its axle configuration and marks overweight
vehicles with the excess ratio; the record is stored in typed columns (evidence).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from adapters.base import Adapted, Adapter, Origin, origin_event, stable_event_id
from adapters.gb1589 import excess_ratio, legal_limit_kg
from adapters.jsonform import NativeRecord, load_record
from adapters.model import MediaRef, Severity, WeighInMotion
from core.model import Ident, SourceSystem

#: Axle-load sum and gross mass may differ by this much before the record is flagged.
AXLE_SUM_TOLERANCE = 0.10


class WimRecord(NativeRecord):
    """One vehicle over the scales (fields documented in docs/wim.md)."""

    record_id: str = Field(min_length=1, max_length=64)
    time: AwareDatetime
    station: Ident
    lane: int = Field(ge=0, le=32)
    plate: str | None = Field(None, max_length=16)
    gross_kg: float = Field(gt=0, le=300_000)
    axle_count: int = Field(ge=2, le=12)
    axle_weights_kg: list[float] = Field(max_length=12)
    speed_kmh: float = Field(ge=0, le=250)
    calibration_id: str = Field(min_length=1, max_length=64)
    vehicle_form: Literal["rigid", "combination"] | None = None
    camera: Ident | None = None
    pictures: list[MediaRef] = Field(default_factory=list, max_length=16)

    @model_validator(mode="after")
    def _axles_match(self) -> WimRecord:
        if len(self.axle_weights_kg) != self.axle_count:
            raise ValueError(
                f"axle_weights_kg has {len(self.axle_weights_kg)} values for "
                f"axle_count {self.axle_count}"
            )
        if any(w < 0 or w > 100_000 for w in self.axle_weights_kg):
            raise ValueError("axle weights must be within 0..100000 kg")
        return self


class WimAdapter(Adapter):
    format = "wim"
    systems = (SourceSystem.overload,)
    summary = "weigh-in-motion vehicle record; judged against GB 1589-2016 gross-mass limits"

    def adapt(self, payload: bytes, origin: Origin) -> Adapted:
        r = load_record(WimRecord, payload, origin, self.max_bytes)
        # Unknown configuration: judge with the higher (combination) limit, never a false alarm.
        form = r.vehicle_form or "combination"
        limit = legal_limit_kg(r.axle_count, form)
        ratio = round(excess_ratio(r.gross_kg, limit), 4)
        wim = WeighInMotion(
            station=r.station,
            lane=r.lane,
            plate=r.plate,
            gross_kg=r.gross_kg,
            axle_count=r.axle_count,
            axle_weights_kg=r.axle_weights_kg,
            speed_kmh=r.speed_kmh,
            calibration_id=r.calibration_id,
            limit_kg=limit,
            overweight=ratio > 0,
            excess_ratio=ratio,
        )
        attrs: dict[str, object] = {
            "record_id": r.record_id,
            "vehicle_form": form,
            "limit_rule": "GB 1589-2016",
        }
        if r.vehicle_form is None:
            attrs["vehicle_form_assumed"] = True
        if r.plate:
            attrs["plate"] = r.plate
        axle_sum = sum(r.axle_weights_kg)
        if abs(axle_sum - r.gross_kg) > AXLE_SUM_TOLERANCE * r.gross_kg:
            attrs["axle_sum_mismatch_kg"] = round(axle_sum - r.gross_kg, 1)
        if extra := r.extra():
            attrs["extra"] = extra
        severity = (
            Severity.critical
            if ratio > 1.0
            else Severity.major
            if ratio > 0.3
            else Severity.minor
            if ratio > 0
            else Severity.info
        )
        event = origin_event(
            origin,
            id=stable_event_id(r.time, "wim", origin.department, r.station, r.record_id),
            occurred_at=r.time,
            kind="overweight_vehicle" if wim.overweight else "vehicle_weighed",
            severity=severity,
            device=r.station,
            camera=r.camera,
            attributes=attrs,
            media=r.pictures,
            wim=wim,
        )
        return Adapted(events=[event])

    def simulate(self, rng: random.Random, origin: Origin, now: datetime) -> bytes:
        axles = rng.choice([2, 2, 3, 4, 5, 6, 6])
        form = "rigid" if axles == 2 or (axles <= 4 and rng.random() < 0.5) else "combination"
        limit = legal_limit_kg(axles, form)  # type: ignore[arg-type]
        # Most trucks are legal; about one in six is loaded beyond the limit.
        gross = limit * (rng.uniform(1.02, 1.6) if rng.random() < 0.17 else rng.uniform(0.35, 0.98))
        shares = [rng.uniform(0.7, 1.3) for _ in range(axles)]
        axle_w = [round(gross * s / sum(shares), 0) for s in shares]
        t = now - timedelta(milliseconds=rng.randint(0, 500))
        rid = f"{origin.site}-{int(t.timestamp() * 1000)}-{rng.randrange(10**6)}"
        return json.dumps(
            {
                "record_id": rid,
                "time": t.isoformat(),
                "station": origin.site,
                "lane": rng.randint(1, 3),
                "plate": "川B" + str(rng.randint(10000, 99999)),
                "gross_kg": round(sum(axle_w), 0),
                "axle_count": axles,
                "axle_weights_kg": axle_w,
                "speed_kmh": round(rng.uniform(20, 80), 1),
                "calibration_id": "CAL-2024-031",
                "vehicle_form": form,
                "temperature_c": round(rng.uniform(-5, 38), 1),
            },
            ensure_ascii=False,
        ).encode("utf-8")
