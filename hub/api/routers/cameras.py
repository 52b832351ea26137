"""Cameras: metadata for those the caller may watch; the RTSP URL and credentials are
write-only (sealed, stored through a function the API role cannot read back)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Response
from psycopg import errors, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import AfterValidator, BaseModel, Field, SecretStr

from core.model import Ident, SourceSystem
from hub.api.common import (
    LocationIn,
    Strict,
    Text,
    conflict,
    location,
    not_found,
    require_own_site,
    unprocessable,
)
from hub.auth.access import Caller, require
from hub.auth.roles import Role
from streams.recording.config import CameraRecording

router = APIRouter(prefix="/cameras", tags=["cameras"])
COLS = {"department": "department_id", "site": "site_id", "camera": "id", "system": "source_system"}


def _rtsp(url: SecretStr) -> SecretStr:
    """Checked with the rest of the body, before any lookup (the value is never echoed)."""
    if not re.fullmatch(r"(rtsps?|onvif)://[^\s\x00]+", url.get_secret_value()):
        raise ValueError("url must be an rtsp://, rtsps:// or onvif:// URL")
    return url


RtspUrl = Annotated[SecretStr, AfterValidator(_rtsp)]


class CameraIn(Strict):
    id: Ident
    name: Text
    site: Ident
    system: SourceSystem
    url: RtspUrl = Field(
        description="rtsp://, rtsps:// or onvif:// (PTZ through ONVIF) URL. Write-only: never "
        "returned.", max_length=2048
    )
    username: SecretStr | None = Field(None, max_length=256, description="Write-only.")
    password: SecretStr | None = Field(None, max_length=256, description="Write-only.")
    always_on: bool = False
    location: LocationIn | None = None


class CameraPatch(Strict):
    name: Text | None = None
    always_on: bool | None = None
    location: LocationIn | None = None
    url: RtspUrl | None = Field(None, max_length=2048, description="Write-only.")
    username: SecretStr | None = Field(None, max_length=256, description="Write-only.")
    password: SecretStr | None = Field(None, max_length=256, description="Write-only.")


class CameraOut(BaseModel):
    id: str
    name: str
    site: str
    department: str
    system: str
    always_on: bool
    location: dict[str, float] | None
    has_credentials: bool = Field(description="Whether an RTSP URL is stored (never shown).")


def _out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "site": row["site_id"],
        "department": row["department_id"],
        "system": row["source_system"],
        "always_on": row["always_on"],
        "location": location(row),
        "has_credentials": row["has_credentials"],
    }


def _visible(caller: Caller, camera_id: str | None = None) -> list[dict[str, Any]]:
    query = (
        "SELECT id, name, site_id, department_id, source_system, always_on, lat, lon,"
        " cityhub_camera_has_secret(id) AS has_credentials FROM cameras WHERE {}"
    )
    params: tuple[Any, ...] = ()
    if camera_id is not None:
        query += " AND id = %s"
        params = (camera_id,)
    with caller.db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            sql.SQL(query + " ORDER BY id").format(caller.visibility.sql("video", COLS)), params
        ).fetchall()


def _store_secret(
    caller: Caller,
    camera_id: str,
    url: SecretStr,
    username: SecretStr | None,
    password: SecretStr | None,
) -> None:
    caller.runtime.credentials.store(
        caller.db,
        camera_id,
        url.get_secret_value(),
        username.get_secret_value() if username else None,
        password.get_secret_value() if password else None,
    )


@router.get("", response_model=list[CameraOut], summary="Cameras the caller may watch")
def list_cameras(caller: Caller = require()) -> list[dict[str, Any]]:
    return [_out(r) for r in _visible(caller)]


@router.get("/{camera_id}", response_model=CameraOut, summary="One camera")
def get_camera(camera_id: Ident, caller: Caller = require()) -> dict[str, Any]:
    rows = _visible(caller, camera_id)
    if not rows:
        raise not_found("camera")
    return _out(rows[0])


@router.post("", response_model=CameraOut, status_code=201, summary="Register a camera")
def create_camera(body: CameraIn, caller: Caller = require(Role.admin)) -> dict[str, Any]:
    require_own_site(caller.db, body.site, caller.department)
    loc = body.location
    try:
        with caller.db.transaction():
            caller.db.execute(
                "INSERT INTO cameras (id, name, site_id, department_id, source_system, always_on,"
                " lat, lon) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    body.id,
                    body.name,
                    body.site,
                    caller.department,
                    body.system.value,
                    body.always_on,
                    loc and loc.lat,
                    loc and loc.lon,
                ),
            )
    except errors.UniqueViolation:
        raise conflict("camera id taken") from None
    _store_secret(caller, body.id, body.url, body.username, body.password)
    caller.audit("camera.create", target_type="camera", target_id=body.id, site=body.site)
    return get_camera(body.id, caller)


@router.patch("/{camera_id}", response_model=CameraOut, summary="Change a camera (credentials too)")
def update_camera(
    camera_id: Ident, body: CameraPatch, caller: Caller = require(Role.admin)
) -> dict[str, Any]:
    loc = body.location
    row = caller.db.execute(
        "UPDATE cameras SET name = coalesce(%s, name), always_on = coalesce(%s, always_on),"
        " lat = coalesce(%s, lat), lon = coalesce(%s, lon), updated_at = now()"
        " WHERE id = %s AND department_id = %s RETURNING id",
        (body.name, body.always_on, loc and loc.lat, loc and loc.lon, camera_id, caller.department),
    ).fetchone()
    if row is None:
        raise not_found("camera of this department")
    changed = sorted(
        k
        for k, v in body.model_dump(exclude_none=True).items()
        if k not in ("url", "username", "password")
    )
    if body.url is not None:
        _store_secret(caller, camera_id, body.url, body.username, body.password)
        changed.append("credentials")
    elif body.username is not None or body.password is not None:
        raise unprocessable("send url together with username/password")
    caller.audit("camera.update", target_type="camera", target_id=camera_id, fields=changed)
    return get_camera(camera_id, caller)


@router.delete("/{camera_id}", status_code=204, summary="Remove a camera (and its credentials)")
def delete_camera(camera_id: Ident, caller: Caller = require(Role.admin)) -> Response:
    done = caller.db.execute(
        "DELETE FROM cameras WHERE id = %s AND department_id = %s", (camera_id, caller.department)
    ).rowcount
    if not done:
        raise not_found("camera of this department")
    caller.audit("camera.delete", target_type="camera", target_id=camera_id)
    return Response(status_code=204)


class RecordingOut(BaseModel):
    camera: str
    policy: CameraRecording | None = Field(
        description="Set through the API (none: not set; the relay's config may still record)."
    )


@router.get("/{camera_id}/recording", response_model=RecordingOut,
            summary="The camera's recording policy")
def get_recording(camera_id: Ident, caller: Caller = require()) -> dict[str, Any]:
    if not _visible(caller, camera_id):
        raise not_found("camera")
    row = caller.db.execute("SELECT recording FROM cameras WHERE id = %s", (camera_id,)).fetchone()
    return {"camera": camera_id, "policy": row[0] if row else None}


@router.put("/{camera_id}/recording", response_model=RecordingOut,
            summary="Set the camera's recording policy (relays apply it while running)")
def set_recording(
    camera_id: Ident, body: CameraRecording, caller: Caller = require(Role.admin)
) -> dict[str, Any]:
    """Continuous, on events (pre/post seconds), on a weekly schedule, or off; the relay
    that pulls the camera picks it up within ``streams.camera_sync_s`` (a policy in the
    relay's config wins)."""
    policy = body.model_dump(mode="json")
    row = caller.db.execute(
        "UPDATE cameras SET recording = %s, updated_at = now()"
        " WHERE id = %s AND department_id = %s RETURNING id",
        (Jsonb(policy), camera_id, caller.department),
    ).fetchone()
    if row is None:
        raise not_found("camera of this department")
    caller.audit("camera.recording", target_type="camera", target_id=camera_id, policy=policy)
    return {"camera": camera_id, "policy": policy}
