"""Pending cameras: ONVIF devices edge boxes found (or an admin probed), accepted or rejected
by an admin of the department. Accepting checks the credentials against the camera, then
registers it exactly as ``POST /cameras`` does (the same function): an ``onvif://`` URL
with the credentials, sealed, never returned.

The hub talks to the camera (probe, accept) with :class:`streams.onvif.OnvifDevice`, each
call bounded by ``CALL_TIMEOUT_S`` and the whole exchange by ``PROBE_TIMEOUT_S``. What the
camera answers is about the address and credentials the caller gave, so every failure is a
422 with the reason: ``camera_credentials_refused``, ``camera_profile_missing`` (the chosen
profile), ``camera_probe_failed`` (unreachable, silent, SOAP fault, malformed answer).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import quote, urlsplit
from uuid import UUID

from anyio import from_thread
from fastapi import APIRouter, Query
from psycopg.rows import dict_row
from pydantic import BaseModel, Field, SecretStr, StringConstraints

from core.discovery import DiscoveryReport
from core.model import Ident, SourceSystem
from hub.api.common import (
    CodedError,
    LocationIn,
    Strict,
    Text,
    conflict,
    not_found,
    require_own_site,
)
from hub.api.routers.cameras import CameraIn, CameraOut, create_camera
from hub.auth.access import Caller, require
from hub.auth.roles import Role
from hub.store.pending_cameras import Discovered, record_one
from streams.onvif.url import OnvifError

if TYPE_CHECKING:
    from streams.onvif.client import DeviceInfo, Profile

router = APIRouter(prefix="/pending-cameras", tags=["pending cameras"])
CALL_TIMEOUT_S = 4.0  #: one ONVIF call, connection included
PROBE_TIMEOUT_S = 9.0  #: device information and profiles together

Host = Annotated[str, StringConstraints(min_length=1, max_length=253,
                                        pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.:-]*)$")]
User = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f:]+$")]
Password = Annotated[SecretStr, Field(max_length=256, description="Write-only: never stored "
                                      "by a probe, sealed with the camera on accept.")]


class ProbeIn(Strict):
    address: Host = Field(description="The camera's host name or IP address.")
    port: int = Field(80, ge=1, le=65535, description="Its ONVIF (HTTP) port.")
    username: User
    password: Password


class AcceptIn(Strict):
    id: Ident = Field(description="The new camera's id.")
    name: Text
    site: Ident | None = Field(None, description="Default: the site whose edge box found it.")
    system: SourceSystem
    username: User
    password: Password
    profile: Literal["main", "sub"] = Field("main", description="The camera's stream to use "
                                            "(main: first ONVIF profile, sub: second).")
    always_on: bool = False
    location: LocationIn | None = None


class RejectIn(Strict):
    reason: Text


class ProfileOut(BaseModel):
    token: str
    name: str
    encoding: str
    width: int
    height: int
    ptz: bool


class DeviceOut(BaseModel):
    manufacturer: str
    model: str
    firmware: str
    serial: str
    hardware_id: str


class PendingOut(BaseModel):
    id: UUID
    department: str
    site: str | None
    device: str | None = Field(description="The edge box that found it (none for a probe).")
    source: str = Field(description="discovery (an edge box) or probe (an admin)")
    xaddr: str = Field(description="The device service URL it is known by.")
    xaddrs: list[str]
    host: str
    port: int
    endpoint: str
    name: str
    hardware: str
    scopes: list[str]
    first_seen: datetime
    last_seen: datetime
    state: str = Field(description="pending, accepted or rejected")
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    camera: str | None = Field(description="The camera it became (accepted).")


class ProbeOut(BaseModel):
    pending: PendingOut = Field(description="The device, recorded as a pending camera of the "
                                "department (without the password).")
    device: DeviceOut
    profiles: list[ProfileOut]


class AcceptOut(BaseModel):
    pending: PendingOut
    camera: CameraOut


def _endpoint(xaddr: str) -> tuple[str, int]:
    parts = urlsplit(xaddr)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 80
    return parts.hostname or "", port


def _out(row: dict[str, Any]) -> dict[str, Any]:
    host, port = _endpoint(row["xaddr"])
    return {"id": row["id"], "department": row["department_id"], "site": row["site_id"],
            "device": row["device_id"], "source": row["source"], "xaddr": row["xaddr"],
            "xaddrs": row["xaddrs"], "host": host, "port": port, "endpoint": row["endpoint"],
            "name": row["name"], "hardware": row["hardware"], "scopes": row["scopes"],
            "first_seen": row["first_seen"], "last_seen": row["last_seen"],
            "state": row["state"], "decided_by": row["decided_by"],
            "decided_at": row["decided_at"], "reason": row["reason"], "camera": row["camera_id"]}


def _rows(caller: Caller, where: str = "", params: tuple[Any, ...] = (),
          lock: bool = False) -> list[dict[str, Any]]:
    with caller.db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM pending_cameras WHERE department_id = %s" + where
            + " ORDER BY last_seen DESC, id" + (" FOR UPDATE" if lock else ""),
            (caller.department, *params)).fetchall()


def _pending_or_404(caller: Caller, pending_id: UUID) -> dict[str, Any]:
    """The department's pending camera, row-locked; 404 alike for another's and unknown ids."""
    rows = _rows(caller, " AND id = %s", (pending_id,), lock=True)
    if not rows:
        raise not_found("pending camera")
    return rows[0]


async def _ask(host: str, port: int, username: str, password: str,
               profile: str | None) -> tuple[DeviceInfo, list[Profile]]:
    """Device information and profiles (the chosen ``profile`` must exist), bounded.

    The ONVIF client (zeep, aiohttp) is imported on first use: it is a sixth of the hub's
    start, and a hub restarted under load must serve again within seconds."""
    from streams.onvif.client import OnvifDevice  # noqa: PLC0415 (see above)

    async with asyncio.timeout(PROBE_TIMEOUT_S):
        async with OnvifDevice(host, port, username, password, CALL_TIMEOUT_S) as dev:
            info = await dev.device_info()
            if profile is None:
                return info, await dev.profiles()
            return info, [await dev.profile(profile)]


def _camera_check(caller: Caller, what: str, host: str, port: int, username: str,
                  password: SecretStr, profile: str | None) -> tuple[DeviceInfo, list[Profile]]:
    """Ask the camera; an audited, committed refusal (422) when it does not answer."""
    try:
        return from_thread.run(_ask, host, port, username, password.get_secret_value(), profile)
    except (OnvifError, TimeoutError) as exc:
        reason = str(exc) if isinstance(exc, OnvifError) else (
            f"{host}:{port}: no answer within {PROBE_TIMEOUT_S:g} s")
        status, code = ((422, "camera_credentials_refused")
                        if "refused the credentials" in reason else
                        (422, "camera_profile_missing") if "no profile" in reason else
                        (422, "camera_probe_failed"))
        caller.audit(f"pending_camera.{what}.failed", target_type="pending_camera",
                     address=f"{host}:{port}", code=code, reason=reason)
        caller.db.commit()
        raise CodedError(status, reason, code) from None


@router.get("", response_model=list[PendingOut], summary="The department's pending cameras")
def list_pending(state: Literal["pending", "accepted", "rejected"] | None = Query(None),
                 caller: Caller = require(Role.admin)) -> list[dict[str, Any]]:
    rows = _rows(caller, " AND state = %s", (state,)) if state else _rows(caller)
    return [_out(r) for r in rows]


@router.post("/probe", response_model=ProbeOut,
             summary="Ask a camera at an address for its ONVIF identity and profiles")
def probe(body: ProbeIn, caller: Caller = require(Role.admin)) -> dict[str, Any]:
    host = body.address.strip("[]")
    info, profiles = _camera_check(caller, "probe", host, body.port, body.username,
                                   body.password, None)
    shown = f"[{host}]" if ":" in host else host
    now = datetime.now(UTC)
    report = DiscoveryReport(device="hub", xaddrs=[f"http://{shown}:{body.port}/onvif/"
                                                   "device_service"],
                             name=f"{info.manufacturer} {info.model}".strip()[:200],
                             hardware=info.model[:200], first_seen=now, last_seen=now)
    pending_id = record_one(caller.db, Discovered(caller.department, None, report, "probe"))
    caller.audit("pending_camera.probe", target_type="pending_camera", target_id=pending_id,
                 address=f"{host}:{body.port}", model=info.model)
    return {"pending": _out(_rows(caller, " AND id = %s", (pending_id,))[0]),
            "device": vars(info), "profiles": [vars(p) for p in profiles]}


@router.post("/{pending_id}/accept", response_model=AcceptOut, status_code=201,
             summary="Accept a pending camera: check its credentials, register it")
def accept(pending_id: UUID, body: AcceptIn, caller: Caller = require(Role.admin)
           ) -> dict[str, Any]:
    row = _pending_or_404(caller, pending_id)
    if row["state"] == "accepted":
        raise conflict(f"already accepted as camera {row['camera_id']}")
    site = body.site or row["site_id"]
    if site is None:
        raise CodedError(422, "site is required (a probed camera has none)", "invalid")
    require_own_site(caller.db, site, caller.department)
    host, port = _endpoint(row["xaddr"])
    _camera_check(caller, "accept", host, port, body.username, body.password, body.profile)
    shown = f"[{host}]" if ":" in host else host
    userinfo = f"{quote(body.username, safe='')}:{quote(body.password.get_secret_value(), safe='')}"
    camera = create_camera(CameraIn(
        id=body.id, name=body.name, site=site, system=body.system,
        url=SecretStr(f"onvif://{userinfo}@{shown}:{port}/?profile={body.profile}"),
        always_on=body.always_on, location=body.location), caller)
    caller.db.execute(
        "UPDATE pending_cameras SET state = 'accepted', camera_id = %s, decided_by = %s,"
        " decided_at = now(), reason = NULL WHERE id = %s",
        (body.id, caller.principal.actor, pending_id))
    caller.audit("pending_camera.accept", target_type="pending_camera", target_id=str(pending_id),
                 camera=body.id, address=f"{host}:{port}", profile=body.profile)
    return {"pending": _out(_rows(caller, " AND id = %s", (pending_id,))[0]), "camera": camera}


@router.post("/{pending_id}/reject", response_model=PendingOut,
             summary="Reject a pending camera (it stays listed as rejected)")
def reject(pending_id: UUID, body: RejectIn, caller: Caller = require(Role.admin)
           ) -> dict[str, Any]:
    row = _pending_or_404(caller, pending_id)
    if row["state"] == "accepted":
        raise conflict(f"already accepted as camera {row['camera_id']}")
    caller.db.execute(
        "UPDATE pending_cameras SET state = 'rejected', decided_by = %s, decided_at = now(),"
        " reason = %s WHERE id = %s", (caller.principal.actor, body.reason, pending_id))
    caller.audit("pending_camera.reject", target_type="pending_camera",
                 target_id=str(pending_id), reason=body.reason)
    return _out(_rows(caller, " AND id = %s", (pending_id,))[0])
