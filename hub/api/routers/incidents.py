"""Incidents: file from events, by hand at a place on the map, or from a city's case system;
act on them (acknowledge, dispatch, hand back, resolve, verify, close, reopen, cancel);
attach events, cameras and photos; comment; follow a department's queue and notices.

A transition may carry the ``version`` the caller last saw: when someone acted first the
answer is 409 ``incident_version_conflict`` (without it, the action is checked against the
state it finds). Errors carry a stable ``code``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from psycopg.rows import dict_row
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from core.model import Ident
from hub.api.common import CodedError, LocationIn, Strict, Text, unknown_id
from hub.api.routers.events import fetch_event
from hub.auth.access import Caller, recheck, require
from hub.auth.roles import Role
from hub.incidents import photos, queries, store
from hub.incidents.states import ActionName, State, TransitionError

router = APIRouter(prefix="/incidents", tags=["incidents"])
ACT = (Role.operator, Role.supervisor, Role.admin)
READ = (Role.operator, Role.supervisor, Role.admin, Role.analyst)
Body = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]
STATUS = {"incident_not_found": 404, "incident_not_your_side": 403,
          "incident_reason_required": 422, "incident_no_assignees": 422,
          "incident_unknown_action": 422}


def error(code: str, message: str, status: int | None = None) -> CodedError:
    return CodedError(status or STATUS.get(code, 409), message, code)


def _raise(exc: TransitionError) -> HTTPException:
    return error(exc.code, str(exc))


class AssigneeIn(Strict):
    department: Ident
    assignee: Annotated[str, StringConstraints(max_length=100, pattern=r"^[^\x00-\x1f]*$")] = ""


class CameraSpanIn(Strict):
    camera: Ident
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class IncidentIn(Strict):
    kind: Ident = Field(description="What happened, e.g. 'overweight', 'illegal_parking'.")
    priority: int = Field(2, ge=1, le=4, description="1 urgent .. 4 low.")
    title: Text
    description: Body = ""
    events: list[UUID] = Field(default_factory=list, max_length=100)
    cameras: list[CameraSpanIn] = Field(default_factory=list, max_length=20)
    site: Ident | None = None
    location: LocationIn | None = Field(None, description="Where, when filed by hand on the map.")
    dispatch_to: list[AssigneeIn] = Field(default_factory=list, max_length=20)


class TransitionIn(Strict):
    version: int | None = Field(None, ge=1, description="The version acted on (409 if stale).")
    reason: Body = ""
    assignees: list[AssigneeIn] = Field(default_factory=list, max_length=20)


class AttachIn(Strict):
    events: list[UUID] = Field(default_factory=list, max_length=100)
    cameras: list[CameraSpanIn] = Field(default_factory=list, max_length=20)


class CommentIn(Strict):
    body: Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]


class IncidentOut(BaseModel):
    id: UUID
    number: int
    department_id: str
    kind: str
    priority: int
    title: str
    description: str
    state: str
    source: str
    site_id: str | None
    lat: float | None
    lon: float | None
    event_count: int
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    dispatched_at: datetime | None
    resolved_at: datetime | None
    verified_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    acknowledge_due: datetime | None
    dispatch_due: datetime | None
    resolve_due: datetime | None
    breached: list[str]
    escalation_level: int


class IncidentDetail(IncidentOut):
    actions: list[str]
    assignees: list[dict[str, Any]]
    events: list[dict[str, Any]]
    cameras: list[dict[str, Any]]
    photos: list[dict[str, Any]]
    timeline: list[dict[str, Any]]


def _actor(caller: Caller) -> store.Actor:
    return store.Actor(caller.principal.actor, caller.department)


def _visible(caller: Caller, incident_id: UUID) -> dict[str, Any]:
    """The incident if the caller's department filed it, is or was assigned it, or was
    notified of it (the rule row-level security states too); else 404."""
    row = store.get(caller.db, str(incident_id))
    seen = row is not None and caller.db.execute(
        "SELECT cityhub_sees_incident(%s, %s)", (row["id"], row["department_id"])).fetchone()
    if row is None or not seen or not seen[0]:
        raise unknown_id("no such incident", 404, "incident_not_found")
    return row


def _events(caller: Caller, ids: list[UUID]) -> list[dict[str, Any]]:
    out = []
    for eid in ids:
        try:
            out.append(fetch_event(caller, eid))
        except HTTPException as exc:
            raise unknown_id(f"no such event: {eid}", 422, "incident_event_not_found") from exc
    return [{**e, "department_id": e.get("department_id") or e.get("department"),
             "site_id": e.get("site_id") or e.get("site"),
             "camera_id": e.get("camera_id") or e.get("camera")} for e in out]


def _attach(caller: Caller, row: dict[str, Any], events: list[UUID],
            cameras: list[CameraSpanIn]) -> None:
    cfg = caller.runtime.config.incidents
    evs = _events(caller, events)
    if evs:
        store.attach_events(caller.db, cfg, row, evs, _actor(caller))
        store.timeline(caller.db, row["id"], _actor(caller), f"{len(evs)} event(s) attached",
                       action="attach_events", events=[str(e) for e in events])
    for span in cameras:
        if span.ends_at <= span.starts_at or span.ends_at - span.starts_at > timedelta(days=1):
            raise error("incident_bad_span", "a camera span must end after it starts, within a day",
                        422)
        cam = caller.camera_or_404(span.camera)
        store.attach_camera(caller.db, row, span.camera, cam["department_id"], span.starts_at,
                            span.ends_at, _actor(caller))
    if evs or cameras:
        store.after_attach(caller.db, cfg, row, _actor(caller))


@router.get("", response_model=list[IncidentOut], summary="The department's queue, newest first")
def list_incidents(
    caller: Caller = require(*READ),
    state: Annotated[list[State] | None, Query()] = None,
    kind: Ident | None = None,
    site: Ident | None = None,
    priority: Annotated[int | None, Query(ge=1, le=4)] = None,
    side: Literal["all", "filed", "assigned"] = "all",
    before: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    rows = queries.queue(caller.db, caller.department, states=state, kind=kind, site=site,
                         priority=priority, side=side, before=before, limit=limit)
    caller.audit("incident.query", side=side, states=state, kind=kind, site=site,
                 priority=priority, results=len(rows))
    return rows


@router.post("", response_model=IncidentDetail, status_code=201, summary="File an incident")
def create_incident(body: IncidentIn, caller: Caller = require(*ACT)) -> dict[str, Any]:
    cfg = caller.runtime.config.incidents
    lat = body.location.lat if body.location else None
    lon = body.location.lon if body.location else None
    if body.site is not None:
        site = caller.db.execute("SELECT lat, lon FROM sites WHERE id = %s", (body.site,)
                                 ).fetchone()
        if site is None:
            raise unknown_id("no such site", 422, "incident_site_not_found")
        lat, lon = (lat, lon) if body.location else (site[0], site[1])
    source = "map" if body.location and not body.events else (
        "operator" if caller.principal.kind == "user" else "api")
    row = store.create(caller.db, cfg, _actor(caller), kind=body.kind, priority=body.priority,
                       title=body.title, description=body.description, source=source,
                       site_id=body.site, lat=lat, lon=lon)
    _attach(caller, row, body.events, body.cameras)
    if body.dispatch_to:
        try:
            store.transition(caller.db, cfg, str(row["id"]), "dispatch", _actor(caller),
                             assignees=[a.model_dump() for a in body.dispatch_to])
        except TransitionError as exc:
            raise _raise(exc) from exc
    return detail(caller, row["id"])


def detail(caller: Caller, incident_id: UUID) -> dict[str, Any]:
    row = _visible(caller, incident_id)
    db = caller.db
    with db.cursor(row_factory=dict_row) as cur:
        iid = row["id"]
        row["assignees"] = cur.execute(
            "SELECT department_id, assignee, assigned_at, assigned_by, ended_at, end_reason"
            " FROM incident_assignees WHERE incident_id = %s ORDER BY assigned_at", (iid,)
        ).fetchall()
        # The events' snapshots and clips, where the caller may see the event itself.
        row["events"] = cur.execute(
            "SELECT ie.event_id, ie.occurred_at, ie.kind, ie.department_id, ie.site_id,"
            " ie.camera_id, coalesce(e.media, '[]') AS media FROM incident_events ie"
            " LEFT JOIN events e ON e.id = ie.event_id AND e.occurred_at = ie.occurred_at"
            " WHERE ie.incident_id = %s ORDER BY ie.occurred_at LIMIT 200", (iid,)
        ).fetchall()
        row["cameras"] = cur.execute(
            "SELECT camera_id, department_id, starts_at, ends_at FROM incident_cameras"
            " WHERE incident_id = %s ORDER BY starts_at", (iid,)).fetchall()
        row["photos"] = cur.execute(
            "SELECT id, content_type, width, height, size, caption, uploaded_by, uploaded_at"
            " FROM incident_photos WHERE incident_id = %s ORDER BY uploaded_at", (iid,)
        ).fetchall()
        row["timeline"] = cur.execute(
            "SELECT id, at, author, department_id, system, action, body, detail FROM"
            " incident_comments WHERE incident_id = %s ORDER BY id", (iid,)).fetchall()
    row["actions"] = store.actions_for(db, row, caller.department)
    return row


@router.get("/notifications", summary="The department's incident notices (assignments, breaches)")
def notifications(
    caller: Caller = require(*READ),
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    return _notices(caller.db, caller, after, limit)


def _notices(db: Any, caller: Caller, after: int, limit: int) -> list[dict[str, Any]]:
    roles = sorted(r.value for r in caller.principal.roles)
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT n.id, n.incident_id, n.role, n.reason, n.level, n.at, i.number, i.title,"
            " i.kind, i.priority, i.state FROM incident_notifications n JOIN incidents i"
            " ON i.id = n.incident_id WHERE n.department_id = %s AND n.id > %s"
            " AND (n.role IS NULL OR n.role = ANY(%s)) ORDER BY n.id DESC LIMIT %s",
            (caller.department, after, roles, limit)).fetchall()


@router.get("/live", summary="Live notices (Server-Sent Events) of new assignments and breaches")
async def live_notices(
    caller: Caller = require(*READ, hold_db=False),
    seconds: Annotated[int, Query(ge=1, le=3600)] = 300,
) -> StreamingResponse:
    runtime = caller.runtime

    def fetch(after: int) -> list[dict[str, Any]] | None:
        with runtime.pool.connection() as conn:
            try:
                now = recheck(conn, caller)
            except HTTPException:
                return None
            if after < 0:
                row = conn.execute("SELECT coalesce(max(id), 0) FROM incident_notifications"
                                   " WHERE department_id = %s", (now.department,)).fetchone()
                return [{"id": row[0] if row else 0, "start": True}]
            return list(reversed(_notices(conn, now, after, 100)))

    async def frames() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        start = await asyncio.to_thread(fetch, -1)
        if start is None:
            return
        after = start[0]["id"]
        yield b": start\n\n"
        while loop.time() < end:
            rows = await asyncio.to_thread(fetch, after)
            if rows is None:
                return
            for r in rows:
                after = max(after, r["id"])
                data = json.dumps(r, default=str)
                yield f"id: {r['id']}\nevent: notice\ndata: {data}\n\n".encode()
            await asyncio.sleep(1.0)
            yield b": keep-alive\n\n"

    return StreamingResponse(frames(), media_type="text/event-stream")


@router.get("/{incident_id}", response_model=IncidentDetail, summary="One incident, everything")
def get_incident(incident_id: UUID, caller: Caller = require(*READ)) -> dict[str, Any]:
    out = detail(caller, incident_id)
    caller.audit("incident.view", target_type="incident", target_id=str(incident_id),
                 department=out["department_id"])
    return out


@router.post("/{incident_id}/actions/{action}", response_model=IncidentDetail,
             summary="Take an action (acknowledge, dispatch, start, hand_back, resolve, verify,"
                     " close, reopen, cancel)")
def act(incident_id: UUID, action: ActionName, body: TransitionIn,
        caller: Caller = require(*ACT)) -> Any:
    _visible(caller, incident_id)
    try:
        store.transition(caller.db, caller.runtime.config.incidents, str(incident_id), action,
                         _actor(caller), version=body.version, reason=body.reason,
                         assignees=[a.model_dump() for a in body.assignees])
    except TransitionError as exc:
        caller.db.rollback()
        return JSONResponse({"detail": str(exc), "code": exc.code},
                            status_code=STATUS.get(exc.code, 409))
    return detail(caller, incident_id)


@router.post("/{incident_id}/attachments", response_model=IncidentDetail,
             summary="Attach events and camera time spans")
def attach(incident_id: UUID, body: AttachIn, caller: Caller = require(*ACT)) -> dict[str, Any]:
    row = _visible(caller, incident_id)
    if row["state"] in ("closed", "cancelled"):
        raise error("incident_bad_state", "the incident is closed")
    _attach(caller, row, body.events, body.cameras)
    return detail(caller, incident_id)


@router.post("/{incident_id}/comments", response_model=IncidentDetail, summary="Add a comment")
def comment(incident_id: UUID, body: CommentIn, caller: Caller = require(*READ)) -> dict[str, Any]:
    row = _visible(caller, incident_id)
    store.timeline(caller.db, row["id"], _actor(caller), body.body, system=False, action="comment")
    caller.audit("incident.comment", target_type="incident", target_id=str(row["id"]),
                 department=row["department_id"])
    return detail(caller, incident_id)


@router.post("/{incident_id}/photos", response_model=IncidentDetail, status_code=201,
             summary="Upload a photo (field staff, from a phone): JPEG, PNG or WebP")
def upload_photo(
    incident_id: UUID,
    file: Annotated[UploadFile, File()],
    caption: Annotated[str, Form(max_length=200)] = "",
    caller: Caller = require(*ACT),
) -> dict[str, Any]:
    row = _visible(caller, incident_id)
    cfg = caller.runtime.config.incidents
    data = file.file.read(cfg.photo_max_bytes + 1)
    try:
        pic = photos.validate(data, cfg.photo_max_bytes, cfg.photo_max_pixels)
    except photos.PhotoError as exc:
        raise error(exc.code, str(exc), 422) from exc
    pid = caller.db.execute(
        "INSERT INTO incident_photos (incident_id, content_type, width, height, size, sha256,"
        " data, caption, uploaded_by, department_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s,"
        " %s) RETURNING id", (row["id"], pic.content_type, pic.width, pic.height, len(data),
                              pic.sha256, data, caption, caller.principal.actor,
                              caller.department)).fetchone()
    store.timeline(caller.db, row["id"], _actor(caller), caption or "photo", action="photo",
                   photo=str(pid[0]) if pid else None)
    caller.audit("incident.photo", target_type="incident", target_id=str(row["id"]),
                 department=row["department_id"], sha256=pic.sha256)
    return detail(caller, incident_id)


@router.get("/{incident_id}/photos/{photo_id}", summary="A photo's bytes",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def get_photo(incident_id: UUID, photo_id: UUID, caller: Caller = require(*READ)) -> Response:
    _visible(caller, incident_id)
    row = caller.db.execute("SELECT content_type, data FROM incident_photos WHERE id = %s AND"
                            " incident_id = %s", (photo_id, incident_id)).fetchone()
    if row is None:
        raise unknown_id("no such photo", 404, "incident_photo_not_found")
    return Response(bytes(row[1]), media_type=row[0],
                    headers={"Cache-Control": "private, max-age=3600",
                             "X-Content-Type-Options": "nosniff"})
