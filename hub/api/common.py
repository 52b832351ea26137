"""Shared request/response pieces of the API routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.model import Ident

#: Free text users type (names, purposes): printable, bounded, no NUL.
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]
IdList = Annotated[list[Ident], Field(max_length=500)]


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class LocationIn(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no such {what}")


def conflict(message: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, message)


def unprocessable(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


def location(row: dict[str, Any]) -> dict[str, float] | None:
    if row.get("lat") is None or row.get("lon") is None:
        return None
    return {"lat": row["lat"], "lon": row["lon"]}


def require_own_site(db: Any, site_id: str, department: str) -> None:
    """A department registers cameras and sensors only at its own sites."""
    site = db.execute("SELECT department_id FROM sites WHERE id = %s", (site_id,)).fetchone()
    if site is None or site[0] != department:
        raise unprocessable("site must be one of the department's sites")
