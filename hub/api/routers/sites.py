"""Sites (intersections, depots, stations): listed when owned or reached by a grant."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from core.model import Ident
from hub.api.common import LocationIn, Strict, Text, location
from hub.api.registry import Registry, lat_lon
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


SITES = Registry(
    "sites", "site", "id, name, department_id, lat, lon", "sites", COLS, _out,
    in_use="the site still has cameras",
)


@router.get("", response_model=list[SiteOut], summary="Sites the caller owns or has grants into")
def list_sites(caller: Caller = require()) -> list[dict[str, Any]]:
    return SITES.listed(caller)


@router.get("/{site_id}", response_model=SiteOut, summary="One site")
def get_site(site_id: Ident, caller: Caller = require()) -> dict[str, Any]:
    return SITES.one(caller, site_id)


@router.post("", response_model=SiteOut, status_code=201, summary="Register a site")
def create_site(body: SiteIn, caller: Caller = require(Role.admin)) -> dict[str, Any]:
    SITES.insert(caller, {"id": body.id, "name": body.name, **lat_lon(body.location)})
    SITES.audit(caller, "create", body.id)
    return SITES.one(caller, body.id)


@router.patch("/{site_id}", response_model=SiteOut, summary="Rename or move a site")
def update_site(
    site_id: Ident, body: SitePatch, caller: Caller = require(Role.admin)
) -> dict[str, Any]:
    SITES.update(caller, site_id, {"name": body.name, **lat_lon(body.location)})
    SITES.audit(caller, "update", site_id)
    return SITES.one(caller, site_id)


@router.delete("/{site_id}", status_code=204, summary="Remove a site with no cameras left")
def delete_site(site_id: Ident, caller: Caller = require(Role.admin)) -> Response:
    SITES.delete(caller, site_id)
    SITES.audit(caller, "delete", site_id)
    return Response(status_code=204)
