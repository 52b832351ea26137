"""GB/T 28181: the caller's department's devices and registrations, the channels of the
cameras it may watch, and live media sessions. Read-only: devices are configured in the
city file (gb28181.devices) and kept by the SIP service (`cityhub sip`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from psycopg import sql
from psycopg.rows import dict_row

from hub.api.routers.cameras import COLS as CAMERA_COLS
from hub.auth.access import Caller, require

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
