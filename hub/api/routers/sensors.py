"""Sensors: listed when owned or shared through a readings grant."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from core.model import Ident
from hub.api.common import LocationIn, Strict, location, require_own_site
from hub.api.registry import Registry, lat_lon
from hub.auth.access import Caller, require
from hub.auth.roles import Role

router = APIRouter(prefix="/sensors", tags=["sensors"])
COLS = {"department": "department_id", "site": "site_id", "sensor": "id"}


class SensorIn(Strict):
    id: Ident
    site: Ident
    kind: Ident
    location: LocationIn | None = None


class SensorPatch(Strict):
    kind: Ident | None = None
    location: LocationIn | None = None


class SensorOut(BaseModel):
    id: str
    site: str
    department: str
    kind: str | None
    registered: bool
    location: dict[str, float] | None


def _out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "site": row["site_id"],
        "department": row["department_id"],
        "kind": row["kind"],
        "registered": row["registered"],
        "location": location(row),
    }


SENSORS = Registry(
    "sensors", "sensor", "id, site_id, department_id, kind, registered, lat, lon", "readings",
    COLS, _out, touch="registered = true", in_use="the sensor still has readings",
)


@router.get("", response_model=list[SensorOut], summary="Sensors the caller may read")
def list_sensors(caller: Caller = require()) -> list[dict[str, Any]]:
    return SENSORS.listed(caller)


@router.get("/{sensor_id}", response_model=SensorOut, summary="One sensor")
def get_sensor(sensor_id: Ident, caller: Caller = require()) -> dict[str, Any]:
    return SENSORS.one(caller, sensor_id)


@router.post("", response_model=SensorOut, status_code=201, summary="Register a sensor")
def create_sensor(body: SensorIn, caller: Caller = require(Role.admin)) -> dict[str, Any]:
    require_own_site(caller.db, body.site, caller.department)
    SENSORS.insert(caller, {"id": body.id, "site_id": body.site, "kind": body.kind,
                            **lat_lon(body.location), "registered": True})
    SENSORS.audit(caller, "create", body.id)
    return SENSORS.one(caller, body.id)


@router.patch("/{sensor_id}", response_model=SensorOut, summary="Change a sensor")
def update_sensor(
    sensor_id: Ident, body: SensorPatch, caller: Caller = require(Role.admin)
) -> dict[str, Any]:
    SENSORS.update(caller, sensor_id, {"kind": body.kind, **lat_lon(body.location)})
    SENSORS.audit(caller, "update", sensor_id)
    return SENSORS.one(caller, sensor_id)


@router.delete("/{sensor_id}", status_code=204, summary="Remove a sensor")
def delete_sensor(sensor_id: Ident, caller: Caller = require(Role.admin)) -> Response:
    SENSORS.delete(caller, sensor_id)
    SENSORS.audit(caller, "delete", sensor_id)
    return Response(status_code=204)
