"""Sensors: listed when owned or shared through a readings grant."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from psycopg import errors, sql
from psycopg.rows import dict_row
from pydantic import BaseModel

from core.model import Ident
from hub.api.common import (
    LocationIn,
    Strict,
    conflict,
    location,
    not_found,
    require_own_site,
)
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


def _visible(caller: Caller, sensor_id: str | None = None) -> list[dict[str, Any]]:
    query = "SELECT id, site_id, department_id, kind, registered, lat, lon FROM sensors WHERE {}"
    params: tuple[Any, ...] = ()
    if sensor_id is not None:
        query += " AND id = %s"
        params = (sensor_id,)
    with caller.db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            sql.SQL(query + " ORDER BY id").format(caller.visibility.sql("readings", COLS)), params
        ).fetchall()


@router.get("", response_model=list[SensorOut], summary="Sensors the caller may read")
def list_sensors(caller: Caller = require()) -> list[dict[str, Any]]:
    return [_out(r) for r in _visible(caller)]


@router.get("/{sensor_id}", response_model=SensorOut, summary="One sensor")
def get_sensor(sensor_id: Ident, caller: Caller = require()) -> dict[str, Any]:
    rows = _visible(caller, sensor_id)
    if not rows:
        raise not_found("sensor")
    return _out(rows[0])


@router.post("", response_model=SensorOut, status_code=201, summary="Register a sensor")
def create_sensor(body: SensorIn, caller: Caller = require(Role.admin)) -> dict[str, Any]:
    require_own_site(caller.db, body.site, caller.department)
    loc = body.location
    try:
        with caller.db.transaction():
            caller.db.execute(
                "INSERT INTO sensors (id, site_id, department_id, kind, lat, lon, registered)"
                " VALUES (%s, %s, %s, %s, %s, %s, true)",
                (
                    body.id,
                    body.site,
                    caller.department,
                    body.kind,
                    loc and loc.lat,
                    loc and loc.lon,
                ),
            )
    except errors.UniqueViolation:
        raise conflict("sensor id taken") from None
    caller.audit("sensor.create", target_type="sensor", target_id=body.id)
    return get_sensor(body.id, caller)


@router.patch("/{sensor_id}", response_model=SensorOut, summary="Change a sensor")
def update_sensor(
    sensor_id: Ident, body: SensorPatch, caller: Caller = require(Role.admin)
) -> dict[str, Any]:
    loc = body.location
    row = caller.db.execute(
        "UPDATE sensors SET kind = coalesce(%s, kind), lat = coalesce(%s, lat),"
        " lon = coalesce(%s, lon), registered = true WHERE id = %s AND department_id = %s"
        " RETURNING id",
        (body.kind, loc and loc.lat, loc and loc.lon, sensor_id, caller.department),
    ).fetchone()
    if row is None:
        raise not_found("sensor of this department")
    caller.audit("sensor.update", target_type="sensor", target_id=sensor_id)
    return get_sensor(sensor_id, caller)


@router.delete("/{sensor_id}", status_code=204, summary="Remove a sensor")
def delete_sensor(sensor_id: Ident, caller: Caller = require(Role.admin)) -> Response:
    try:
        with caller.db.transaction():
            done = caller.db.execute(
                "DELETE FROM sensors WHERE id = %s AND department_id = %s",
                (sensor_id, caller.department),
            ).rowcount
    except errors.ForeignKeyViolation:
        raise conflict("the sensor still has readings") from None
    if not done:
        raise not_found("sensor of this department")
    caller.audit("sensor.delete", target_type="sensor", target_id=sensor_id)
    return Response(status_code=204)
