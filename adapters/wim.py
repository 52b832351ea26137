"""Weigh-in-motion (overload checking) per-vehicle records.

Input format: adapters/docs/wim.md. The adapter judges each vehicle against the
GB 1589-2016 table 3 gross-mass limit for its axle configuration (``gb1589``)
exactly: any mass above the limit is overweight, nothing is rounded before the
comparison. The record is stored in typed columns (it may become evidence).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from adapters.base import Adapted, Adapter, Origin, origin_event, stable_event_id
from adapters.gb1589 import (
    AIR_SUSPENSION_BONUS,
    ARTICULATED_4_AIR,
    Axle,
    Configuration,
    Limit,
    VehicleForm,
    base_limit,
    excess_ratio,
    legal_limit_kg,
    limit_for,
)
from adapters.jsonform import NativeRecord, WireTime, load_record
from adapters.model import MediaRef, Severity, WeighInMotion
from core.model import Ident, SourceSystem

#: Axle-load sum and gross mass may differ by this much (fraction of gross, and at least
#: ``AXLE_SUM_MIN_KG``) before the record is doubtful: a station's gross is its axles' sum.
AXLE_SUM_TOLERANCE = 0.02
AXLE_SUM_MIN_KG = 100.0


Plate = Annotated[str, Field(min_length=1, max_length=16)]
Kg = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]


class AxleRecord(NativeRecord):
    """One axle as the station measured it (unknown properties left out or null)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    weight_kg: Kg | None = None
    tyres_per_side: Literal[1, 2] | None = None
    drive: bool | None = None
    steer: bool = False
    air_suspension: bool | None = None
    tyre_width_mm: int | None = Field(None, ge=100, le=800)
    spacing_mm: int | None = Field(None, ge=500, le=20_000)


class AxleGroup(NativeRecord):
    """Consecutive axles of one unit that form a single axle, a tandem or a tridem."""

    model_config = ConfigDict(extra="forbid", strict=True)

    unit: Literal["truck", "tractor", "semitrailer", "trailer", "centre_axle_trailer"]
    axles: list[AxleRecord] = Field(min_length=1, max_length=4)


class WimRecord(NativeRecord):
    """One vehicle over the scales (fields documented in docs/wim.md)."""

    model_config = ConfigDict(strict=True)

    record_id: Annotated[str, Field(min_length=1, max_length=64)]
    time: WireTime
    station: Ident
    lane: int = Field(ge=0, le=32)
    direction: Annotated[str, Field(max_length=16)] | None = None
    plate: Plate | None = None
    plate_color: Annotated[str, Field(max_length=8)] | None = None
    trailer_plate: Plate | None = None
    vehicle_class: Annotated[str, Field(max_length=32)] | None = None
    gross_kg: float = Field(gt=0, le=300_000, allow_inf_nan=False)
    axle_groups: list[AxleGroup] | None = Field(None, min_length=1, max_length=8)
    axle_count: int | None = Field(None, ge=2, le=12)
    axle_weights_kg: list[Kg | None] | None = Field(None, max_length=12)
    speed_kmh: float = Field(ge=0, le=250, allow_inf_nan=False)
    calibration_id: Annotated[str, Field(min_length=1, max_length=64)]
    vehicle_form: Literal["rigid", "combination"] | None = None
    camera: Ident | None = None
    pictures: list[MediaRef] = Field(default_factory=list, max_length=16)

    @model_validator(mode="after")
    def _axles_match(self) -> WimRecord:
        if self.axle_groups is not None:
            n = sum(len(g.axles) for g in self.axle_groups)
            if not 2 <= n <= 12:
                raise ValueError(f"axle_groups hold {n} axles (2..12)")
            if self.axle_count is not None and self.axle_count != n:
                raise ValueError(f"axle_count {self.axle_count} but axle_groups hold {n} axles")
            if self.axle_weights_kg is not None:
                raise ValueError("give axle weights in axle_groups or axle_weights_kg, not both")
            self.axle_count = n
        elif self.axle_count is None:
            raise ValueError("axle_count or axle_groups is required")
        elif self.axle_weights_kg is not None and len(self.axle_weights_kg) != self.axle_count:
            raise ValueError(
                f"axle_weights_kg has {len(self.axle_weights_kg)} values for "
                f"axle_count {self.axle_count}"
            )
        return self

    def axles(self) -> list[Axle]:
        if self.axle_groups is None:
            return []
        return [
            Axle(
                g.unit,
                i,
                a.weight_kg,
                a.tyres_per_side,
                a.drive,
                a.steer,
                a.air_suspension,
                a.tyre_width_mm,
                a.spacing_mm,
            )
            for i, g in enumerate(self.axle_groups)
            for a in g.axles
        ]

    def weights(self) -> list[float | None]:
        if self.axle_groups is not None:
            return [a.weight_kg for g in self.axle_groups for a in g.axles]
        return list(self.axle_weights_kg or [None] * (self.axle_count or 0))


def simple_limit(n: int, form: str | None) -> Limit:
    """The limit of the simple format (axle count, rigid/combination, nothing else recorded).

    Tyres, suspension and drive axles are unknown, so every note of table 3 that could
    raise the limit is taken as met, and none that lowers it: the highest limit the
    recorded facts allow.
    """
    assumed = [
        "tyres, suspension, drive axles and axle spacing not recorded: "
        "the notes of table 3 that raise the limit are applied"
    ]
    if form is None:
        assumed.append("vehicle form not recorded: the higher of rigid and combination")
    options: list[tuple[Configuration, int]] = (
        [] if form == "combination" else [("truck", base_limit(n, "truck"))])
    if form != "rigid" and n >= 3:
        options.append(("articulated", base_limit(n, "articulated")))
    rules = []
    for i, (config, kg) in enumerate(options):
        if config == "truck" and n in (3, 4):
            options[i] = (config, kg + AIR_SUSPENSION_BONUS)
        elif config == "articulated" and n == 4:
            options[i] = (config, ARTICULATED_4_AIR)
    config, kg = max(options, key=lambda o: o[1])
    rules.append(f"table 3: {n} axles, {config}, notes assumed met: {kg} kg")
    return Limit(kg, config, rules, assumed)


def judge_limit(r: WimRecord) -> Limit:
    """The limit from the axle description, else from the simple format's count and form."""
    axles = r.axles()
    return limit_for(axles) if axles else simple_limit(r.axle_count or 0, r.vehicle_form)


def doubts(r: WimRecord) -> list[str]:
    """Why the weighing itself is doubtful (the verdict then says so)."""
    known = [w for w in r.weights() if w is not None]
    if not known:
        return []  # missing axle weights are not an error
    total = sum(known)
    slack = max(AXLE_SUM_MIN_KG, AXLE_SUM_TOLERANCE * r.gross_kg)
    if len(known) < (r.axle_count or 0):  # some axles not weighed: only an excess is a doubt
        if total > r.gross_kg + slack:
            return [f"weighed axles alone sum to {total:g} kg, gross is {r.gross_kg:g} kg"]
        return []
    if abs(total - r.gross_kg) > slack:
        return [f"axle weights sum to {total:g} kg, gross is {r.gross_kg:g} kg"]
    return []


def _severity(ratio: float) -> Severity:
    if ratio > 1.0:
        return Severity.critical
    if ratio > 0.3:
        return Severity.major
    return Severity.minor if ratio > 0 else Severity.info


class WimAdapter(Adapter):
    format = "wim"
    systems = (SourceSystem.overload,)
    summary = "weigh-in-motion vehicle record; judged against GB 1589-2016 gross-mass limits"

    def adapt(self, payload: bytes, origin: Origin) -> Adapted:
        r = load_record(WimRecord, payload, origin, self.max_bytes)
        limit = judge_limit(r)
        overweight = r.gross_kg > limit.kg  # exact: nothing is rounded before this comparison
        doubt = doubts(r)
        wim = WeighInMotion(
            station=r.station,
            lane=r.lane,
            plate=r.plate,
            gross_kg=r.gross_kg,
            axle_count=r.axle_count or 0,
            axle_weights_kg=r.weights(),
            speed_kmh=r.speed_kmh,
            calibration_id=r.calibration_id,
            limit_kg=limit.kg,
            overweight=overweight,
            excess_ratio=excess_ratio(r.gross_kg, limit.kg),
        )
        attrs: dict[str, Any] = {
            "record_id": r.record_id,
            "verdict": "doubtful" if doubt else "overweight" if overweight else "within_limit",
            "excess_kg": max(0.0, r.gross_kg - limit.kg),
            "configuration": limit.configuration,
            "limit_rule": "GB 1589-2016 4.3 table 3",
            "limit_basis": limit.rules,
        }
        if limit.assumptions:
            attrs["limit_assumptions"] = limit.assumptions
        if doubt:
            attrs["doubts"] = doubt
        for name in ("plate", "plate_color", "trailer_plate", "direction", "vehicle_class"):
            if (value := getattr(r, name)) is not None:
                attrs[name] = value
        if r.vehicle_form is not None:
            attrs["vehicle_form"] = r.vehicle_form
        if r.axle_groups is not None:
            attrs["axle_groups"] = [g.model_dump(exclude_none=True) for g in r.axle_groups]
        if extra := r.extra():
            attrs["extra"] = extra
        event = origin_event(
            origin,
            id=stable_event_id(r.time, "wim", origin.department, r.station, r.record_id),
            occurred_at=r.time,
            kind="overweight_vehicle" if overweight else "vehicle_weighed",
            severity=_severity(wim.excess_ratio),
            device=r.station,
            camera=r.camera,
            attributes=attrs,
            media=r.pictures,
            wim=wim,
        )
        return Adapted(events=[event])

    def simulate(self, rng: random.Random, origin: Origin, now: datetime) -> bytes:
        axles = rng.choice([2, 2, 3, 4, 5, 6, 6])
        rigid = axles == 2 or (axles <= 4 and rng.random() < 0.5)
        form: VehicleForm = "rigid" if rigid else "combination"
        limit = legal_limit_kg(axles, form)
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
