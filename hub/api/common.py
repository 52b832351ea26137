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


#: The stable code of an error answer without one of its own, by HTTP status.
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid",
                429: "throttled", 500: "internal", 502: "upstream", 503: "unavailable"}


class CodedError(HTTPException):
    """An HTTP error with a stable machine ``code`` (answered as {"detail", "code"}); the UI
    translates ``error.<code>``, so a code never changes once published. ``extra``: further
    fields of the answer (e.g. who holds a camera)."""

    def __init__(self, status: int, detail: str, code: str,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(status, detail)
        self.code = code
        self.extra = extra or {}


def error_body(status: int, detail: Any, code: str | None = None,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every error answer's shape: the human detail and a stable code (and any extra)."""
    return {**(extra or {}), "detail": detail, "code": code or STATUS_CODES.get(status, "error")}


def unknown_id(detail: str, status: int = 404, code: str | None = None) -> CodedError:
    """The one answer for an id the caller may not see and for an id that does not exist.

    Every lookup of an id a caller supplies ends here for both reasons alike (404 for the
    object a path names, 422 for one a body refers to), so that no answer (status, code,
    detail) tells another department's ids from unknown ones. Look up with the caller's
    visibility (or its department) in the query and raise this when nothing comes back;
    never test "exists" and "may see" apart.
    """
    return CodedError(status, detail, code or STATUS_CODES[status])


def not_found(what: str) -> CodedError:
    return unknown_id(f"no such {what}")


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
        raise unknown_id("site must be one of the department's sites", 422)
