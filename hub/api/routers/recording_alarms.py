"""Recording alarms and camera health transitions from relays, stored as events
(``streams/recording/alarms.py`` posts them).

A camera's alarm (recording failed or stopped, archive move failed) becomes an event of the
camera's department and site; a storage path's alarm (disk near full, path gone) one event
per department whose cameras that relay records. Source ``hub``, so they show in the event
console, wake live subscribers and incident rules like any alarm. Ids come from the relay:
a resend after a lost answer stores nothing twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg
from fastapi import APIRouter, HTTPException, Request, status
from psycopg.types.json import Jsonb
from pydantic import Field

from core.model import Ident
from hub.api.common import Strict
from hub.auth.access import Anonymous, public
from hub.relays import require_service_token

router = APIRouter(tags=["streams"])
Kind = Literal[
    "recording_failed", "recording_stopped", "disk_near_full", "storage_unavailable",
    "archive_failed", "camera_offline", "camera_online",
]
#: Severity per kind: footage or video is being lost (major) or at risk (minor); a camera
#: back online is information (the same kinds and severities as an edge box's cameras).
SEVERITY = {"recording_failed": 2, "recording_stopped": 2, "storage_unavailable": 2,
            "camera_offline": 2, "disk_near_full": 1, "archive_failed": 1, "camera_online": 0}


class AlarmIn(Strict):
    id: uuid.UUID
    kind: Kind
    message: str = Field(max_length=1000)
    at: float = Field(gt=0, description="Unix seconds on the relay.")
    camera: Ident | None = None
    path: str | None = Field(None, max_length=1000)
    cameras: list[Ident] = Field(default_factory=list, max_length=10000,
                                 description="Storage alarms: the cameras the relay records.")


class AlarmsIn(Strict):
    alarms: list[AlarmIn] = Field(max_length=1000)


class AlarmsOut(Strict):
    stored: int = Field(description="Events written (one per department for a path's alarm).")
    unknown: list[str] = Field(description="Cameras the hub does not know (no event for them).")


def _owners(conn: psycopg.Connection[Any], config_cameras: list[Any],
            ids: set[str]) -> dict[str, tuple[str, str, float | None, float | None]]:
    """camera -> (department, site, lat, lon), from the store, else the hub's config."""
    rows = conn.execute("SELECT id, department_id, site_id, lat, lon FROM cameras"
                        " WHERE id = ANY(%s)", (list(ids),)).fetchall()
    out = {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}
    for cam in config_cameras:
        if cam.id in ids and cam.id not in out:
            loc = cam.location
            out[cam.id] = (cam.department, cam.site, loc and loc.lat, loc and loc.lon)
    return out


def _events(alarm: AlarmIn, owners: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(id, occurred_at, kind, severity, department, site, camera, lat, lon, attributes)."""
    at = datetime.fromtimestamp(alarm.at, UTC)
    attributes = {"message": alarm.message}
    if alarm.camera is not None:
        if alarm.camera not in owners:
            return []
        dept, site, lat, lon = owners[alarm.camera]
        return [(alarm.id, at, alarm.kind, SEVERITY[alarm.kind], dept, site, alarm.camera,
                 lat, lon, Jsonb(attributes))]
    by_dept: dict[str, list[str]] = {}
    for cam in alarm.cameras:
        if cam in owners:
            by_dept.setdefault(owners[cam][0], []).append(cam)
    return [(uuid.uuid5(alarm.id, dept), at, alarm.kind, SEVERITY[alarm.kind], dept,
             owners[cams[0]][1], None, None, None,
             Jsonb({**attributes, "path": alarm.path, "cameras": cams}))
            for dept, cams in sorted(by_dept.items())]


@router.post("/streams/alarms", response_model=AlarmsOut,
             summary="Relay: recording alarms, stored as events of the cameras' departments")
def relay_alarms(
    body: AlarmsIn, request: Request,
    db: Anonymous = public("relay service token, checked in the route", db=False),
) -> dict[str, Any]:
    require_service_token(db.runtime.config, db.runtime.play_secrets,
                          request.headers.get("authorization"))
    dsn = db.runtime.config.database.url
    if dsn is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "the hub has no owner database URL (database.url) to store alarms")
    ids = {a.camera for a in body.alarms if a.camera} | {c for a in body.alarms
                                                        for c in a.cameras}
    with psycopg.connect(dsn.get_secret_value(), application_name="cityhub-relay-alarms") as c:
        owners = _owners(c, db.runtime.config.cameras, ids)
        rows = [row for a in body.alarms for row in _events(a, owners)]
        if rows:
            times = [r[1] for r in rows]
            c.execute("SELECT store_ensure_partitions('events'::regclass, %s, %s)",
                      (min(times), max(times) + timedelta(microseconds=1)))
        with c.cursor() as cur:
            cur.executemany(
                "INSERT INTO events (id, occurred_at, source_system, kind, severity,"
                " department_id, site_id, camera_id, lat, lon, attributes)"
                " VALUES (%s, %s, 'hub', %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING", rows)
    unknown = sorted(i for i in ids if i not in owners)
    return {"stored": len(rows), "unknown": unknown}
