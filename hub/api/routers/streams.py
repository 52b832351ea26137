"""Play tokens for cameras the caller may watch, and the relay's view checks.

``POST /cameras/{id}/play`` checks the camera against the caller's rights, issues a
short-lived play token (``streams.auth.tokens``: HS256 with ``hub.secret_key``,
audience ``cityhub-play``) and opens a view session named by the token's id, keeping
who asked. The relay verifies the token, then asks ``/streams/sessions/sync`` (with its
service token) whether the view may start, and every second whether it may go on
(``hub.auth.view_guard``); starts, stops and forced ends are audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import psycopg
from fastapi import APIRouter, HTTPException, Request, status
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from core.model import Ident
from hub.api.common import Strict
from hub.auth import view_guard
from hub.auth.access import Anonymous, Caller, public, require
from hub.auth.credentials import cameras_for_relay
from hub.auth.roles import Role
from hub.relays import relay_bases, require_service_token
from streams.auth.tokens import PlayGrant, issue_play_token, verify_play_token

router = APIRouter(tags=["streams"])
Protocol = Literal["webrtc", "rtsp", "snapshot", "clip", "fmp4", "playback"]
#: Protocols that show recorded footage (fMP4 is also the live fallback: live)
PLAYBACK = {"clip", "playback"}


class PlayIn(Strict):
    protocols: list[Protocol] = Field(
        default_factory=lambda: list[Protocol](["webrtc", "rtsp"]), min_length=1, max_length=6
    )


class PlayOut(BaseModel):
    token: str = Field(description="Bearer for WHEP, ?token= for RTSP. Short-lived.")
    session_id: UUID
    camera: str
    protocols: list[str]
    expires_at: datetime
    whep_url: str | None
    rtsp_url: str | None
    playback_url: str | None = Field(
        None, description="WebSocket of recorded footage (needs a playback grant)."
    )
    playback_window: list[float | None] | None = Field(
        None, description="Recorded time this token may play back (unix s; None: open end)."
    )


class SyncIn(Strict):
    """A relay's views: new ones to admit, live ones to re-check, finished ones."""

    started: list[UUID] = Field(default_factory=list, max_length=10000)
    live: list[UUID] = Field(default_factory=list, max_length=10000)
    stopped: list[UUID] = Field(default_factory=list, max_length=10000)


class EndedOut(BaseModel):
    code: str = Field(description="access_revoked, user_disabled, logged_out, key_revoked, "
                      "role_removed or unknown_session")
    reason: str = Field(description="What to tell the viewer.")


class SyncOut(BaseModel):
    ended: dict[str, EndedOut] = Field(
        description="Views (started or live) that must end now, with why."
    )


class SessionOut(BaseModel):
    id: UUID
    camera_id: str
    department_id: str
    viewer: str
    protocols: list[str]
    issued_at: datetime
    expires_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None
    ended_at: datetime | None = None
    ended_code: str | None = Field(None, description="Why the hub ended the view (revocation).")
    ended_reason: str | None = None


@router.post(
    "/cameras/{camera_id}/play",
    response_model=PlayOut,
    summary="A short-lived play token for one camera (WHEP and RTSP URLs)",
)
def play(
    camera_id: Ident, body: PlayIn, caller: Caller = require(*view_guard.VIEW_ROLES)
) -> dict[str, Any]:
    camera = caller.camera_or_404(camera_id)
    protocols = sorted(set(body.protocols))
    window = _playback_window(caller, camera) if "playback" in protocols else None
    token, grant, expires = open_view(caller, camera, protocols, window, _bounded(window))
    # the relay that owns the camera (cluster.nodes), else access.relay_*_url
    http_base, rtsp_base = relay_bases(caller.runtime.config, camera_id)
    return {
        "token": token,
        "session_id": grant.token_id,
        "camera": camera_id,
        "protocols": protocols,
        "expires_at": expires,
        "whep_url": f"{http_base}/whep/{camera_id}" if "webrtc" in protocols else None,
        "rtsp_url": f"{rtsp_base}/{camera_id}" if "rtsp" in protocols else None,
        "playback_url": (
            f"{http_base.replace('http', 'ws', 1)}/playback/{camera_id}" if window else None
        ),
        "playback_window": window,
    }


def open_view(caller: Caller, camera: dict[str, Any], protocols: Sequence[str],
              window: list[float | None] | None, bounds: tuple[float, float] | None,
              **detail: Any) -> tuple[str, PlayGrant, datetime]:
    """Issue a play token (``bounds``: the footage it may play back), open its view
    session and audit it (``detail`` added); (token, its grant, when it expires)."""
    protocols = list(protocols)
    token = issue_play_token(
        caller.runtime.play_secret,
        camera["id"],
        caller.principal.actor,
        ttl_s=caller.runtime.config.access.play_token_seconds,
        protocols=protocols,
        window=bounds,
    )
    grant = verify_play_token(caller.runtime.play_secrets, token, camera["id"])
    expires = datetime.fromtimestamp(grant.expires_at, UTC)
    caller.db.execute(
        "INSERT INTO view_sessions (id, camera_id, department_id, viewer, protocols, expires_at,"
        " principal_kind, principal_id, login_session) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            UUID(grant.token_id),
            camera["id"],
            camera["department_id"],
            caller.principal.actor,
            protocols,
            expires,
            caller.principal.kind,
            caller.principal.id,
            caller.principal.session,
        ),
    )
    action = "video.playback.authorize" if PLAYBACK & set(protocols) else "video.live.authorize"
    used = caller.visibility.camera_grants(  # the grants it goes through: their recent uses
        "playback" if window else "video", camera["department_id"], camera["site_id"],
        camera["id"], camera["source_system"])
    caller.audit(
        action,
        target_type="camera",
        target_id=camera["id"],
        department=camera["department_id"],
        session=grant.token_id,
        protocols=protocols,
        playback_window=window,
        **({"grants": used} if used else {}),
        **detail,
    )
    return token, grant, expires


def _playback_window(caller: Caller, camera: dict[str, Any]) -> list[float | None]:
    """The recorded time the caller may play back; 403 without a playback grant."""
    window = caller.visibility.playback_window(
        camera["department_id"], camera["site_id"], camera["id"], camera["source_system"]
    )
    if window is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "no playback grant for this camera: watching live does not include recordings",
        )
    return [w.timestamp() if w is not None else None for w in window]


def _bounded(window: list[float | None] | None) -> tuple[float, float] | None:
    if window is None or window == [None, None]:
        return None
    return (window[0] if window[0] is not None else 0.0, window[1] or 4102444800.0)


def _audit_view(db: Anonymous, row: dict[str, Any], what: str, **detail: Any) -> None:
    kind = "playback" if PLAYBACK & set(row["protocols"]) else "live"
    db.audit(f"video.{kind}.{what}", actor="relay", target_type="camera",
             target_id=row["camera_id"], actor_department=row["department_id"],
             session=str(row["id"]), viewer=row["viewer"], **detail)


def _mark(db: Anonymous, session_id: UUID, column: str) -> dict[str, Any] | None:
    """Set ``column`` once; the row when this call set it (so it is audited once)."""
    with db.db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"UPDATE view_sessions SET {column} = now() WHERE id = %s AND {column} IS NULL"
            " RETURNING *",
            (session_id,),
        ).fetchone()


def _end(db: Anonymous, session_id: UUID, ended: view_guard.Ended) -> None:
    with db.db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "UPDATE view_sessions SET ended_at = now(), ended_code = %s, ended_reason = %s"
            " WHERE id = %s AND ended_at IS NULL RETURNING *",
            (ended.code, ended.reason, session_id),
        ).fetchone()
    if row is not None:
        _audit_view(db, row, "ended", code=ended.code, reason=ended.reason)


class RelayCameraOut(BaseModel):
    id: str
    department: str
    always_on: bool
    url: str = Field(description="Camera URL with its credentials: for relays only.")
    username: str | None
    password: str | None
    recording: dict[str, Any] | None = Field(
        None, description="Recording policy set through the API (none: not set).")


def _relay_only(request: Request, db: Anonymous) -> None:
    require_service_token(db.runtime.config, db.runtime.play_secrets,
                          request.headers.get("authorization"))


@router.get(
    "/streams/cameras",
    response_model=list[RelayCameraOut],
    summary="Relay: every camera in the store it should pull, with credentials",
)
def relay_cameras(
    request: Request, db: Anonymous = public("relay service token, checked in the route", db=False)
) -> list[dict[str, Any]]:
    """Cameras added through the API, accepted from discovery or catalogued over GB/T 28181
    (``streams/sources/catalog.py`` polls this); read as the owner, since the API role reads
    no secrets."""
    _relay_only(request, db)
    dsn = db.runtime.config.database.url
    if dsn is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "the hub has no owner database URL (database.url) to read cameras")
    with psycopg.connect(dsn.get_secret_value(), application_name="cityhub-relay-cameras") as c:
        return cameras_for_relay(c, db.runtime.credentials)


@router.post(
    "/streams/sessions/sync",
    response_model=SyncOut,
    summary="Relay: admit new views, re-check live ones, close finished ones",
)
def sync_views(
    body: SyncIn,
    request: Request,
    db: Anonymous = public("relay service token, checked in the route"),
) -> dict[str, Any]:
    """The relay calls this before serving a view and every second while views last
    (``streams/auth/guard.py``); views listed in ``ended`` must stop at once."""
    _relay_only(request, db)
    ended: dict[str, Any] = {}
    asked = list(dict.fromkeys([*body.started, *body.live]))
    with db.db.cursor(row_factory=dict_row) as cur:
        rows = {r["id"]: r for r in cur.execute(
            "SELECT * FROM view_sessions WHERE id = ANY(%s)", (asked,)).fetchall()}
    verdicts = view_guard.Verdicts(db.db)  # one check per viewer+camera
    for sid in asked:
        row = rows.get(sid)
        verdict = verdicts.ended(row)
        if verdict is not None:
            if row is not None:
                _end(db, sid, verdict)
            ended[str(sid)] = {"code": verdict.code, "reason": verdict.reason}
        elif sid in body.started and (started := _mark(db, sid, "started_at")) is not None:
            _audit_view(db, started, "start")
    for sid in body.stopped:
        if (stopped := _mark(db, sid, "stopped_at")) is not None:
            _audit_view(db, stopped, "stop")
    return {"ended": ended}


@router.get(
    "/streams/sessions",
    response_model=list[SessionOut],
    summary="Recent view sessions on the department's cameras",
)
def list_sessions(caller: Caller = require(Role.admin, Role.auditor)) -> list[dict[str, Any]]:
    with caller.db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM view_sessions WHERE department_id = %s"
            " ORDER BY issued_at DESC LIMIT 500",
            (caller.department,),
        ).fetchall()
