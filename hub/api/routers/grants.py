"""Sharing grants: a department's admins share a scope of what it owns with another department."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from psycopg.rows import dict_row
from pydantic import AwareDatetime, BaseModel, Field

from core.model import Ident, SourceSystem
from hub.api.common import (
    CodedError,
    IdList,
    Strict,
    Text,
    not_found,
    unknown_id,
    unprocessable,
)
from hub.auth import grant_store
from hub.auth.access import Caller, require
from hub.auth.roles import Role

router = APIRouter(prefix="/grants", tags=["grants"])
MAX_GRANT = timedelta(days=366)


class GrantIn(Strict):
    grantee: Ident = Field(description="Department receiving access.")
    resources: list[Literal["video", "events", "readings", "playback", "ptz"]] = Field(
        min_length=1,
        max_length=5,
        description="video: live and camera metadata; playback: recorded footage (with video); "
        "ptz: moving the cameras (with video).",
    )
    purpose: Text = Field(description="Why: recorded in the audit log and shown to both sides.")
    expires_at: AwareDatetime = Field(description="When access ends (at most a year ahead).")
    starts_at: AwareDatetime | None = None
    cameras: IdList | None = Field(None, description="Only these cameras (None: any).")
    sites: IdList | None = Field(None, description="Only these sites (None: any).")
    sensors: IdList | None = Field(None, description="Only these sensors (None: any).")
    systems: list[SourceSystem] | None = Field(None, max_length=10)
    kinds: IdList | None = Field(None, description="Only these event kinds (None: any).")
    playback_from: AwareDatetime | None = Field(
        None, description="playback: only footage recorded from then (None: any earlier)."
    )
    playback_to: AwareDatetime | None = Field(
        None, description="playback: only footage recorded until then (None: any later)."
    )


class GrantOut(BaseModel):
    id: UUID
    grantor: str
    grantee: str
    resources: list[str]
    purpose: str
    starts_at: datetime | None
    expires_at: datetime
    cameras: list[str] | None
    sites: list[str] | None
    sensors: list[str] | None
    systems: list[str] | None
    kinds: list[str] | None
    playback_from: datetime | None = None
    playback_to: datetime | None = None
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    active: bool
    incident_id: UUID | None = Field(
        None, description="Set when an incident's dispatch made it (revoked with the incident)."
    )
    incident_number: int | None = None
    event_ids: list[UUID] | None = Field(
        None, description="An incident's grant: exactly these events (no other scope).")


def _out(row: dict[str, Any]) -> dict[str, Any]:
    g = grant_store.to_grant(row)
    return {
        **row,
        "grantor": row["grantor_department"],
        "grantee": row["grantee_department"],
        "active": g.active(datetime.now(UTC)),
    }


def _owned(caller: Caller, table: str, ids: list[str] | None) -> None:
    if not ids:
        return
    found = caller.db.execute(
        f"SELECT count(*) FROM {table} WHERE id = ANY(%s) AND department_id = %s",  # noqa: S608
        (ids, caller.department),
    ).fetchone()
    if found is None or found[0] != len(set(ids)):
        raise unknown_id(f"{table}: a department can only share {table} it owns", 422)


@router.get("", response_model=list[GrantOut], summary="Grants given or received by the department")
def list_grants(caller: Caller = require()) -> list[dict[str, Any]]:
    return [_out(r) for r in grant_store.list_grants(caller.db, caller.department)]


@router.get("/{grant_id}", response_model=GrantOut, summary="One grant")
def get_grant(grant_id: UUID, caller: Caller = require()) -> dict[str, Any]:
    row = grant_store.get_grant(caller.db, str(grant_id), caller.department)
    if row is None:
        raise not_found("grant")
    return _out(row)


@router.post(
    "", response_model=GrantOut, status_code=201, summary="Share a scope with a department"
)
def create_grant(body: GrantIn, caller: Caller = require(Role.admin)) -> dict[str, Any]:
    now = datetime.now(UTC)
    if body.grantee == caller.department:
        raise unprocessable("a department already sees what it owns")
    if len(body.purpose.strip()) < 3:
        raise unprocessable("purpose: say why, in at least 3 characters")
    if body.expires_at <= now or body.expires_at - now > MAX_GRANT:
        raise unprocessable("expires_at must be in the future and at most a year ahead")
    if body.starts_at is not None and body.starts_at >= body.expires_at:
        raise unprocessable("starts_at must be before expires_at")
    if body.playback_from and body.playback_to and body.playback_from >= body.playback_to:
        raise unprocessable("playback_from must be before playback_to")
    if (
        caller.db.execute("SELECT 1 FROM departments WHERE id = %s", (body.grantee,)).fetchone()
        is None
    ):
        raise unprocessable("no such grantee department")
    _owned(caller, "cameras", body.cameras)
    _owned(caller, "sites", body.sites)
    _owned(caller, "sensors", body.sensors)
    fields = body.model_dump()
    fields["resources"] = sorted(set(body.resources))
    fields["systems"] = None if body.systems is None else sorted({s.value for s in body.systems})
    for dim in ("cameras", "sites", "sensors", "kinds"):
        if fields[dim] is not None:
            fields[dim] = sorted(set(fields[dim]))
    row = grant_store.create_grant(caller.db, caller.department, fields, caller.principal.actor)
    caller.audit(
        "grant.create",
        target_type="grant",
        target_id=str(row["id"]),
        grantee=body.grantee,
        resources=fields["resources"],
        purpose=body.purpose,
        expires_at=body.expires_at.isoformat(),
        scope={d: fields[d] for d in ("cameras", "sites", "sensors", "systems", "kinds")},
        playback_window=[
            body.playback_from.isoformat() if body.playback_from else None,
            body.playback_to.isoformat() if body.playback_to else None,
        ],
    )
    return _out(row)


@router.post("/{grant_id}/revoke", response_model=GrantOut, summary="Revoke a grant (at once)")
def revoke_grant(grant_id: UUID, caller: Caller = require(Role.admin)) -> dict[str, Any]:
    held = grant_store.get_grant(caller.db, str(grant_id), caller.department)
    if held and held["incident_id"] and held["grantor_department"] == caller.department:
        raise CodedError(
            409, "bound to an incident: it ends with the assignment", "grant_incident_bound"
        )
    row = grant_store.revoke_grant(
        caller.db, str(grant_id), caller.department, caller.principal.actor
    )
    if row is None:
        raise not_found("active grant given by this department")
    caller.audit(
        "grant.revoke",
        target_type="grant",
        target_id=str(grant_id),
        grantee=row["grantee_department"],
    )
    return _out(row)


class GrantUse(BaseModel):
    at: datetime
    actor: str = Field(description="Who used it (a user or an API key of the grantee).")
    action: str = Field(description="video.live.authorize or video.playback.authorize.")
    camera: str | None
    protocols: list[str] | None = None


@router.get("/{grant_id}/uses", response_model=list[GrantUse],
            summary="Recent uses of a grant (the grantor's and the grantee's admins)")
def grant_uses(
    grant_id: UUID, limit: int = Query(20, ge=1, le=200), caller: Caller = require(Role.admin)
) -> list[dict[str, Any]]:
    """The grantee's plays of the grantor's cameras through this grant, newest first, as the
    audit log recorded them (a play names the grants that let it through)."""
    row = grant_store.get_grant(caller.db, str(grant_id), caller.department)
    if row is None:
        raise not_found("grant")
    with caller.db.cursor(row_factory=dict_row) as cur:
        uses = cur.execute(
            "SELECT at, actor, action, target_id AS camera, detail->'protocols' AS protocols"
            " FROM audit_log WHERE at >= %s AND action LIKE 'video.%%.authorize'"
            " AND department = %s AND actor_department = %s AND detail->'grants' ? %s"
            " ORDER BY seq DESC LIMIT %s",
            (row["created_at"], row["grantor_department"], row["grantee_department"],
             str(grant_id), limit),
        ).fetchall()
    caller.audit("grant.uses.read", target_type="grant", target_id=str(grant_id),
                 returned=len(uses))
    return uses
