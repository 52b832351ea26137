"""GB/T 28181: the caller's department's devices and registrations, the channels of the
cameras it may watch, and live media sessions; for admins, the upper platforms the city
cascades to (registration state) and what their own department shares with each.
Read-only: devices and uppers are configured in the city file (gb28181.devices,
gb28181.uppers) and kept by the SIP service (`cityhub sip`)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, HTTPException
from psycopg import sql
from psycopg.rows import dict_row

from hub.api.routers.cameras import COLS as CAMERA_COLS
from hub.api.routers.streams import _playback_window
from hub.auth import view_guard
from hub.auth.access import Caller, audit_now, require
from hub.auth.roles import Role
from hub.gb28181.runner import control_token

router = APIRouter(prefix="/gb28181", tags=["gb28181"])

DEVICE_COLS = (
    "id, name, kind, department_id AS department, site_id AS site, online, transport,"
    " contact_host, contact_port, registered_at, expires_at, last_seen, keepalive_s,"
    " media_transport, catalog_at, catalog_complete, info, status"
)


def _rows(caller: Caller, query: sql.SQL | sql.Composed, params: tuple[Any, ...] = ()
          ) -> list[dict[str, Any]]:
    with caller.db.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


@router.get("/devices", summary="Devices and lower platforms of the caller's department")
def list_devices(caller: Caller = require()) -> list[dict[str, Any]]:
    return _rows(caller, sql.SQL(f"SELECT {DEVICE_COLS} FROM gb_devices"
                                 " WHERE department_id = %s ORDER BY id"), (caller.department,))


@router.get("/registrations", summary="Current registrations of the caller's devices")
def list_registrations(caller: Caller = require()) -> list[dict[str, Any]]:
    return _rows(caller, sql.SQL(
        "SELECT id, transport, contact_host, contact_port, registered_at, expires_at,"
        " last_seen, online, instance FROM gb_devices WHERE department_id = %s"
        " AND expires_at > now() ORDER BY id"), (caller.department,))


@router.get("/channels", summary="Channels of the cameras the caller may watch")
def list_channels(caller: Caller = require()) -> list[dict[str, Any]]:
    return _rows(caller, sql.SQL(
        "SELECT ch.device_id, ch.id, ch.camera_id, ch.name, ch.status, ch.civil_code,"
        " ch.parent_id, ch.manufacturer, ch.model, ch.lat, ch.lon, ch.retired_at"
        " FROM gb_channels ch JOIN cameras ON cameras.id = ch.camera_id WHERE {}"
        " ORDER BY ch.device_id, ch.id").format(caller.visibility.sql("video", CAMERA_COLS)))


@router.get("/sessions", summary="Media sessions (open first) of the caller's devices")
def list_sessions(caller: Caller = require()) -> list[dict[str, Any]]:
    return _rows(caller, sql.SQL(
        "SELECT s.call_id, s.device_id, s.channel_id, s.ssrc, s.transport, s.direction,"
        " s.started_at, s.ended_at, s.end_reason FROM gb_sessions s"
        " JOIN gb_devices d ON d.id = s.device_id WHERE d.department_id = %s"
        " ORDER BY s.ended_at IS NOT NULL, s.started_at DESC LIMIT 500"), (caller.department,))


#: Never the digest user or password (gb_upper_secrets is not readable by the API role).
UPPER_COLS = (
    "u.id, u.name, u.domain, u.host, u.port, u.transport, u.local_id, u.enabled, u.registered,"
    " u.registered_at, u.last_keepalive_at, u.last_error, u.catalog_at, u.catalog_sent,"
    " u.catalog_total, u.expires_s, u.keepalive_s"
)
#: A share counts while the department owns the camera, it is in service and not revoked.
_ACTIVE = "s.revoked_at IS NULL AND c.id IS NOT NULL AND c.retired_at IS NULL"


@router.get("/uppers", summary="Upper platforms: registration state, the caller's shares (admins)")
def list_uppers(caller: Caller = require(Role.admin)) -> list[dict[str, Any]]:
    """Every upper platform the city cascades to; ``shared`` counts only the caller's own
    department's active shares (other departments' sharing is theirs to see)."""
    return _rows(caller, sql.SQL(
        f"SELECT {UPPER_COLS}, (SELECT count(*) FROM gb_upper_shares s LEFT JOIN cameras c"
        " ON c.id = s.camera_id AND c.department_id = s.department_id"
        f" WHERE s.upper_id = u.id AND s.department_id = %s AND {_ACTIVE}) AS shared"
        " FROM gb_uppers u ORDER BY u.id"), (caller.department,))


@router.get("/uppers/{upper_id}/shares",
            summary="What the caller's department shares with an upper platform (admins)")
def list_upper_shares(upper_id: str, caller: Caller = require(Role.admin)
                      ) -> list[dict[str, Any]]:
    if not _rows(caller, sql.SQL("SELECT 1 FROM gb_uppers WHERE id = %s"), (upper_id,)):
        raise HTTPException(404, f"no upper platform {upper_id[:32]!r}")
    return _rows(caller, sql.SQL(
        "SELECT s.channel_id, s.camera_id, c.name AS camera_name, s.playback, s.created_by,"
        f" s.created_at, s.revoked_at, s.revoked_by, ({_ACTIVE}) AS active"
        " FROM gb_upper_shares s LEFT JOIN cameras c ON c.id = s.camera_id"
        " AND c.department_id = s.department_id WHERE s.upper_id = %s AND s.department_id = %s"
        " ORDER BY s.revoked_at IS NOT NULL, s.channel_id"), (upper_id, caller.department))


def channel_of(caller: Caller, camera_id: str) -> dict[str, Any]:
    """The GB/T 28181 channel (``device_id``, ``id``) a camera is; 404 for other cameras."""
    rows = _rows(caller, sql.SQL("SELECT device_id, id FROM gb_channels WHERE camera_id = %s"
                                 " AND retired_at IS NULL"), (camera_id,))
    if not rows:
        raise HTTPException(404, f"camera {camera_id!r} is not a GB/T 28181 channel")
    return rows[0]


@router.get("/channels/{camera_id}/records",
            summary="A GB/T 28181 channel's recordings kept on its device (RecordInfo)")
def channel_records(camera_id: str, start: float, end: float,
                    caller: Caller = require(*view_guard.VIEW_ROLES)) -> dict[str, Any]:
    """Asked of the device through the SIP service; only for a caller who may play the
    camera's recordings, and only within the time its grant allows (audited)."""
    camera = caller.camera_or_404(camera_id)
    lo, hi = _playback_window(caller, camera)
    start, end = max(start, lo or start), min(end, hi or end)
    if not 0 < start < end:
        raise HTTPException(422, "start < end required (within the playback grant)")
    rows = [channel_of(caller, camera_id)]
    config = caller.runtime.config
    g = config.gb28181
    try:
        r = httpx.post(f"http://{g.control_host}:{g.control_port}/records", timeout=15,
                       headers={"Authorization": f"Bearer {control_token(config)}"},
                       json={"device": rows[0]["device_id"], "channel": rows[0]["id"],
                             "start": start, "end": end})
    except httpx.HTTPError:
        raise HTTPException(503, "the SIP service is unreachable") from None
    if r.status_code != 200:
        raise HTTPException(502, f"the device gave no record list ({r.status_code})")
    found = r.json()["records"]
    audit_now(caller, "gb28181.records", target_type="camera", target_id=camera_id,
              department=camera["department_id"], start=start, end=end, records=len(found))
    return {"camera": camera_id, "device": rows[0]["device_id"], "records": found}
