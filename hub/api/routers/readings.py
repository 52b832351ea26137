"""Sensor readings: a series for one sensor and metric; the latest values."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from core.model import Ident
from hub.api.routers.events import _as_dict, _model
from hub.auth.access import Caller, audit_now, require, store_query
from hub.auth.grants import to_store
from hub.auth.roles import Role
from hub.store import queries
from hub.store.filters import SeriesQuery

router = APIRouter(prefix="/readings", tags=["readings"])


class Point(BaseModel):
    """A raw reading (n = 1, avg = min = max = value) or a bucket's statistics."""

    time: datetime
    n: int
    avg: float
    min: float
    max: float


class Latest(BaseModel):
    sensor: str
    metric: str
    time: datetime
    #: None when the newest reading carries a boolean, string, data or only a sum (SenML).
    value: float | None
    unit: str | None = None
    quality: int | None = None
    site: str | None = None
    department: str | None = None


@router.get("/series", response_model=list[Point], summary="One sensor's metric over time")
async def series(
    sensor: Ident,
    metric: Annotated[str, Query(min_length=1, max_length=64)],
    start: AwareDatetime,
    end: AwareDatetime,
    bucket: Literal["raw", "minute", "hour", "day"] = "raw",
    limit: Annotated[int, Query(ge=1, le=50_000)] = 10_000,
    caller: Caller = require(Role.analyst, Role.operator, hold_db=False),
) -> list[dict[str, Any]]:
    q = _model(
        SeriesQuery,
        {
            "sensor": sensor,
            "metric": metric,
            "start": start,
            "end": end,
            "bucket": bucket,
            "limit": limit,
        },
    )
    points = await store_query(
        caller, queries.reading_series, q, to_store(caller.visibility, "readings")
    )
    out = [_as_dict(p) for p in points]
    await asyncio.to_thread(
        audit_now,
        caller,
        "readings.query",
        target_type="sensor",
        target_id=sensor,
        metric=metric,
        returned=len(out),
    )
    return out


@router.get("/latest", response_model=list[Latest], summary="Newest value per sensor and metric")
async def latest(
    sensors: Annotated[list[Ident] | None, Query(max_length=500)] = None,
    sites: Annotated[list[Ident] | None, Query(max_length=500)] = None,
    caller: Caller = require(Role.analyst, Role.operator, hold_db=False),
) -> list[dict[str, Any]]:
    rows = await store_query(
        caller,
        queries.latest_readings,
        to_store(caller.visibility, "readings"),
        sensors=sensors,
        sites=sites,
    )
    out = [_as_dict(r) for r in rows]
    await asyncio.to_thread(
        audit_now, caller, "readings.latest", target_type="readings", returned=len(out)
    )
    return out
