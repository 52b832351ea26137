"""Play tokens for cameras the caller may watch, and the relay's view start/stop reports.

``POST /cameras/{id}/play`` checks the camera against the caller's rights, issues a
short-lived play token (``streams.auth.tokens``: HS256 with ``hub.secret_key``,
audience ``cityhub-play``) and opens a view session named by the token's id. The
relay verifies the token on WHEP/RTSP and reports, with an API key holding the
``relay`` role, when the viewer really starts and stops: each is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, status
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from core.model import Ident
from hub.api.common import Strict, not_found
from hub.auth.access import Caller, require
from hub.auth.roles import Role
from hub.relays import relay_bases
from streams.auth.tokens import PlayTokenError, issue_play_token, verify_play_token

router = APIRouter(tags=["streams"])
Protocol = Literal["webrtc", "rtsp", "snapshot", "clip", "fmp4", "playback"]
PLAYBACK = {"clip", "fmp4", "playback"}


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


class ViewReport(Strict):
    token: str = Field(
        min_length=10, max_length=4096, description="The play token the viewer used."
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


@router.post(
    "/cameras/{camera_id}/play",
    response_model=PlayOut,
    summary="A short-lived play token for one camera (WHEP and RTSP URLs)",
)
def play(camera_id: Ident, body: PlayIn, caller: Caller = require(Role.operator)) -> dict[str, Any]:
    camera = caller.camera_or_404(camera_id)
    ttl = caller.runtime.config.access.play_token_seconds
    protocols = sorted(set(body.protocols))
    window = _playback_window(caller, camera) if "playback" in protocols else None
    token = issue_play_token(
        caller.runtime.play_secret,
        camera_id,
        caller.principal.actor,
        ttl_s=ttl,
        protocols=protocols,
        window=_bounded(window),
    )
    grant = verify_play_token(caller.runtime.play_secrets, token, camera_id)
    expires = datetime.fromtimestamp(grant.expires_at, UTC)
    caller.db.execute(
        "INSERT INTO view_sessions (id, camera_id, department_id, viewer, protocols, expires_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (
            UUID(grant.token_id),
            camera_id,
            camera["department_id"],
            caller.principal.actor,
            protocols,
            expires,
        ),
    )
    action = "video.playback.authorize" if PLAYBACK & set(protocols) else "video.live.authorize"
    caller.audit(
        action,
        target_type="camera",
        target_id=camera_id,
        department=camera["department_id"],
        session=grant.token_id,
        protocols=protocols,
        playback_window=window,
    )
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


def _report(caller: Caller, session_id: UUID, body: ViewReport, what: str) -> dict[str, Any]:
    with caller.db.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM view_sessions WHERE id = %s", (session_id,)).fetchone()
        if row is None:
            raise not_found("view session")
        try:
            grant = verify_play_token(
                caller.runtime.play_secrets,
                body.token,
                row["camera_id"],
                leeway_s=(timedelta(hours=1).total_seconds() if what == "stop" else 5),
            )
        except PlayTokenError as exc:
            raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
        if UUID(grant.token_id) != session_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "token belongs to another session")
        column = "started_at" if what == "start" else "stopped_at"
        row = cur.execute(
            f"UPDATE view_sessions SET {column} = coalesce({column}, now()) WHERE id = %s"
            " RETURNING *",
            (session_id,),
        ).fetchone()
    assert row is not None
    playback = bool(PLAYBACK & set(row["protocols"]))
    caller.audit(
        f"video.{'playback' if playback else 'live'}.{what}",
        target_type="camera",
        target_id=row["camera_id"],
        department=row["department_id"],
        session=str(session_id),
        viewer=row["viewer"],
    )
    return row


@router.post(
    "/streams/sessions/{session_id}/start",
    response_model=SessionOut,
    summary="Relay: the viewer's media started flowing",
)
def view_started(
    session_id: UUID, body: ViewReport, caller: Caller = require(Role.relay)
) -> dict[str, Any]:
    return _report(caller, session_id, body, "start")


@router.post(
    "/streams/sessions/{session_id}/stop",
    response_model=SessionOut,
    summary="Relay: the viewer left",
)
def view_stopped(
    session_id: UUID, body: ViewReport, caller: Caller = require(Role.relay)
) -> dict[str, Any]:
    return _report(caller, session_id, body, "stop")


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
