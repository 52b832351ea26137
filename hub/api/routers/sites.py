"""Sites (intersections, depots, stations): listed when owned or reached by a grant."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from psycopg import errors
from psycopg.rows import dict_row
from pydantic import BaseModel

from core.model import Ident
from hub.api.common import LocationIn, Strict, Text, conflict, location, not_found
from hub.auth.access import Caller, require
from hub.auth.roles import Role

router = APIRouter(prefix="/sites", tags=["sites"])
COLS = {"department": "department_id", "site": "id"}


class SiteIn(Strict):
    id: Ident
    name: Text
    location: LocationIn | None = None


class SitePatch(Strict):
    name: Text | None = None
    location: LocationIn | None = None


class SiteOut(BaseModel):
    id: str
    name: str
    department: str
    location: dict[str, float] | None


def _out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "department": row["department_id"],
        "location": location(row),
    }


def _visible(caller: Caller, site_id: str | None = None) -> list[dict[str, Any]]:
    where = caller.visibility.sql("sites", COLS)
    query = "SELECT id, name, department_id, lat, lon FROM sites WHERE {}"
    params: tuple[Any, ...] = ()
    if site_id is not None:
        query += " AND id = %s"
        params = (site_id,)
    from psycopg import sql

    with caller.db.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql.SQL(query + " ORDER BY id").format(where), params).fetchall()


@router.get("", response_model=list[SiteOut], summary="Sites the caller owns or has grants into")
def list_sites(caller: Caller = require()) -> list[dict[str, Any]]:
    return [_out(r) for r in _visible(caller)]


@router.get("/{site_id}", response_model=SiteOut, summary="One site")
def get_site(site_id: Ident, caller: Caller = require()) -> dict[str, Any]:
    rows = _visible(caller, site_id)
    if not rows:
        raise not_found("site")
    return _out(rows[0])


@router.post("", response_model=SiteOut, status_code=201, summary="Register a site")
def create_site(body: SiteIn, caller: Caller = require(Role.admin)) -> dict[str, Any]:
    loc = body.location
    try:
        with caller.db.transaction():
            caller.db.execute(
                "INSERT INTO sites (id, name, department_id, lat, lon) VALUES (%s, %s, %s, %s, %s)",
                (body.id, body.name, caller.department, loc and loc.lat, loc and loc.lon),
            )
    except errors.UniqueViolation:
        raise conflict("site id taken") from None
    caller.audit("site.create", target_type="site", target_id=body.id)
    return get_site(body.id, caller)


@router.patch("/{site_id}", response_model=SiteOut, summary="Rename or move a site")
def update_site(
    site_id: Ident, body: SitePatch, caller: Caller = require(Role.admin)
) -> dict[str, Any]:
    row = caller.db.execute(
        "UPDATE sites SET name = coalesce(%s, name), lat = coalesce(%s, lat),"
        " lon = coalesce(%s, lon)"
        " WHERE id = %s AND department_id = %s RETURNING id",
        (
            body.name,
            body.location and body.location.lat,
            body.location and body.location.lon,
            site_id,
            caller.department,
        ),
    ).fetchone()
    if row is None:
        raise not_found("site of this department")
    caller.audit("site.update", target_type="site", target_id=site_id)
    return get_site(site_id, caller)


@router.delete("/{site_id}", status_code=204, summary="Remove a site with no cameras left")
def delete_site(site_id: Ident, caller: Caller = require(Role.admin)) -> Response:
    try:
        with caller.db.transaction():
            done = caller.db.execute(
                "DELETE FROM sites WHERE id = %s AND department_id = %s",
                (site_id, caller.department),
            ).rowcount
    except errors.ForeignKeyViolation:
        raise conflict("the site still has cameras") from None
    if not done:
        raise not_found("site of this department")
    caller.audit("site.delete", target_type="site", target_id=site_id)
    return Response(status_code=204)
