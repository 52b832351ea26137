"""Cameras: metadata for those the caller may watch; the RTSP URL and credentials are
write-only (sealed, stored through a function the API role cannot read back)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Response
from psycopg.types.json import Jsonb
from pydantic import AfterValidator, BaseModel, Field, SecretStr

from core.model import Ident, SourceSystem
from hub.api.common import LocationIn, Strict, Text, location, require_own_site, unprocessable
from hub.api.registry import Registry, lat_lon
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
Heading = Annotated[float, Field(ge=0, lt=360, description="Where the lens points, degrees "
                                 "clockwise from north (the map's field-of-view cone).")]
Fov = Annotated[float, Field(gt=0, le=360, description="Horizontal field of view, degrees.")]


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
    heading: Heading | None = None
    fov: Fov | None = None


class CameraPatch(Strict):
    name: Text | None = None
    always_on: bool | None = None
    location: LocationIn | None = None
    heading: Heading | None = None
    fov: Fov | None = None
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
    heading: float | None = Field(description="Degrees clockwise from north, or unknown.")
    fov: float | None = Field(description="Horizontal field of view in degrees, or unknown.")
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
        "heading": row["heading"],
        "fov": row["fov"],
        "has_credentials": row["has_credentials"],
    }


CAMERAS = Registry(
    "cameras", "camera",
    "id, name, site_id, department_id, source_system, always_on, lat, lon, heading, fov,"
    " cityhub_camera_has_secret(id) AS has_credentials",
    "video", COLS, _out, touch="updated_at = now()",
    in_use="the camera is still bound to a GB/T 28181 channel",
)


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
    return CAMERAS.listed(caller)


@router.get("/{camera_id}", response_model=CameraOut, summary="One camera")
def get_camera(camera_id: Ident, caller: Caller = require()) -> dict[str, Any]:
    return CAMERAS.one(caller, camera_id)


@router.post("", response_model=CameraOut, status_code=201, summary="Register a camera")
def create_camera(body: CameraIn, caller: Caller = require(Role.admin)) -> dict[str, Any]:
    require_own_site(caller.db, body.site, caller.department)
    CAMERAS.insert(caller, {"id": body.id, "name": body.name, "site_id": body.site,
                            "source_system": body.system.value, "always_on": body.always_on,
                            "heading": body.heading, "fov": body.fov,
                            **lat_lon(body.location)})
    _store_secret(caller, body.id, body.url, body.username, body.password)
    CAMERAS.audit(caller, "create", body.id, site=body.site)
    return CAMERAS.one(caller, body.id)


@router.patch("/{camera_id}", response_model=CameraOut, summary="Change a camera (credentials too)",
              description="Credentials change part by part: a new `url` keeps the stored "
              "username and password, a new `password` keeps the URL.")
def update_camera(
    camera_id: Ident, body: CameraPatch, caller: Caller = require(Role.admin)
) -> dict[str, Any]:
    CAMERAS.update(caller, camera_id, {"name": body.name, "always_on": body.always_on,
                                       "heading": body.heading, "fov": body.fov,
                                       **lat_lon(body.location)})
    changed = sorted(
        k
        for k, v in body.model_dump(exclude_none=True).items()
        if k not in ("url", "username", "password")
    )
    parts = {k: v.get_secret_value() for k, v in
             (("url", body.url), ("username", body.username), ("password", body.password))
             if v is not None}
    if parts and not caller.runtime.credentials.store_parts(caller.db, camera_id, parts):
        raise unprocessable("the camera has no URL yet: send url first")
    if parts:
        changed.append("credentials")
    CAMERAS.audit(caller, "update", camera_id, fields=changed)
    return CAMERAS.one(caller, camera_id)


@router.delete("/{camera_id}", status_code=204, summary="Remove a camera (and its credentials)")
def delete_camera(camera_id: Ident, caller: Caller = require(Role.admin)) -> Response:
    CAMERAS.delete(caller, camera_id)
    CAMERAS.audit(caller, "delete", camera_id)
    return Response(status_code=204)


class RecordingOut(BaseModel):
    camera: str
    policy: CameraRecording | None = Field(
        description="Set through the API (none: not set; the relay's config may still record)."
    )


@router.get("/{camera_id}/recording", response_model=RecordingOut,
            summary="The camera's recording policy")
def get_recording(camera_id: Ident, caller: Caller = require()) -> dict[str, Any]:
    CAMERAS.one(caller, camera_id)  # hidden and unknown alike
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
    CAMERAS.update(caller, camera_id, {"recording": Jsonb(policy)})
    CAMERAS.audit(caller, "recording", camera_id, policy=policy)
    return {"camera": camera_id, "policy": policy}
