"""PTZ control of a camera, arbitrated (hub/ptz): leases, department priorities, locks.

A camera the caller cannot see answers 404 like an unknown one; one it may watch but not
move (no ``ptz`` grant) answers 403 ``ptz_not_granted``. Refusals answer 409
``ptz_controlled_by_higher`` (with the holder) or ``ptz_locked`` (with the lock); a
camera the hub has no PTZ driver for answers 409 ``ptz_not_supported`` (after arbitration,
so the lease is taken), one that fails 502 ``ptz_camera_failed``. Every
command, refusal, take-over, lock and unlock is audited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from anyio import from_thread
from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field, StringConstraints

from core.model import Ident
from hub.api.common import CodedError, Strict, Text, unprocessable
from hub.auth.access import Caller, require
from hub.auth.roles import Role
from hub.ptz import control, store
from hub.ptz.arbitration import Holder, Outcome
from hub.ptz.drivers import DriverError, NotSupported, PtzDriver

router = APIRouter(tags=["ptz"])
T = TypeVar("T")
ROLES = (Role.operator,)
LOCK_ROLES = (Role.operator, Role.admin)

Unit = Annotated[float, Field(ge=-1, le=1, allow_inf_nan=False)]
PresetToken = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                               pattern=r"^[A-Za-z0-9_.:-]+$")]


class MoveIn(Strict):
    pan: Unit = Field(description="Pan speed, -1 (left) .. 1 (right).")
    tilt: Unit = Field(description="Tilt speed, -1 (down) .. 1 (up).")
    zoom: Unit = Field(0.0, description="Zoom speed, -1 (out) .. 1 (in).")


class ZoomIn(Strict):
    speed: Unit = Field(description="Zoom speed, -1 (out) .. 1 (in); 0 stops zooming.")


class AbsoluteIn(Strict):
    pan: Unit = Field(description="Pan position, -1 .. 1 of the camera's range.")
    tilt: Unit = Field(description="Tilt position, -1 .. 1 of the camera's range.")
    zoom: float | None = Field(None, ge=0, le=1, allow_inf_nan=False,
                               description="Zoom position, 0 (wide) .. 1 (tele); unset: keep.")


class RelativeIn(Strict):
    pan: Unit = Field(description="Pan step, -1 .. 1 of the camera's range.")
    tilt: Unit = Field(description="Tilt step, -1 .. 1 of the camera's range.")
    zoom: Unit = Field(0.0, description="Zoom step, -1 .. 1.")


class GotoIn(Strict):
    token: PresetToken = Field(description="The preset's token (GET .../ptz lists them).")


class SetPresetIn(Strict):
    name: Text
    token: PresetToken | None = Field(None, description="Overwrite this preset; unset: new.")


class LockIn(Strict):
    reason: Text = Field(description="Why only this department may move the camera now.")
    incident: UUID | None = Field(None, description="The department's incident it serves.")


class CommandOut(BaseModel):
    camera: str
    command: str
    outcome: str = Field(description="acquired, renewed or taken_over (the lease)")
    lease_expires_at: datetime
    preset: str | None = Field(None, description="preset/set: the preset's token.")


class PresetOut(BaseModel):
    token: str
    name: str


class PtzStateOut(BaseModel):
    camera: str
    may_move: bool = Field(description="Whether the caller's department may move it.")
    controller: dict[str, Any] | None = Field(description="The live lease, if any.")
    lock: dict[str, Any] | None
    supported: bool = Field(description="Whether the hub can steer this camera.")
    reason: str | None = Field(None, description="Why not (supported false) or why presets "
                               "could not be read.")
    presets: list[PresetOut] | None


class LockOut(BaseModel):
    camera: str
    controller: dict[str, Any] | None = Field(description="The live lease, if any.")
    lock: dict[str, Any] | None
    ended_lease: dict[str, Any] | None = Field(
        description="Another department's lease the lock ended (its holder is told).")


class NoticeOut(BaseModel):
    id: int
    camera: str
    kind: str = Field(description="taken_over (higher priority) or locked (owner's lock)")
    by_actor: str
    by_department: str
    at: datetime


def _holder(caller: Caller) -> Holder:
    p = caller.principal
    return Holder(p.kind, p.id, p.actor, p.department,
                  caller.runtime.config.ptz.priority(p.department))


def _driver(caller: Caller, camera_id: str) -> PtzDriver:
    cfg = caller.runtime.config
    dsn = cfg.database.url.get_secret_value() if cfg.database.url is not None else None
    return control.driver(dsn, caller.runtime.credentials, camera_id)


def _run(caller: Caller, camera_id: str, fn: Callable[[PtzDriver], Awaitable[T]]) -> T:
    driver = _driver(caller, camera_id)
    timeout = caller.runtime.config.ptz.command_timeout_s
    return from_thread.run(control.call, driver, fn, timeout)


def _movable(caller: Caller, camera_id: str) -> dict[str, Any]:
    camera = caller.camera_or_404(camera_id)
    if not caller.visibility.may_move_camera(
        camera["department_id"], camera["site_id"], camera["id"], camera["source_system"]
    ):
        raise CodedError(403, "the department may watch this camera but not move it (no ptz "
                         "grant)", "ptz_not_granted")
    return camera


def _failed(caller: Caller, camera: dict[str, Any], command: str, exc: Exception) -> CodedError:
    code, status_ = (("ptz_not_supported", 409) if isinstance(exc, NotSupported)
                     else ("ptz_camera_failed", 502))
    caller.audit("ptz.command.failed", target_type="camera", target_id=camera["id"],
                 department=camera["department_id"], command=command, code=code, reason=str(exc))
    caller.db.commit()
    return CodedError(status_, str(exc), code)


def _command(caller: Caller, camera_id: str, command: str,
             fn: Callable[[PtzDriver], Awaitable[Any]], **detail: Any) -> dict[str, Any]:
    """Arbitrate, audit, then drive the camera (the lease row stays locked meanwhile, so
    commands for one camera reach it in the order they were decided)."""
    camera = _movable(caller, camera_id)
    claimant = _holder(caller)
    claimed = store.claim(caller.db, camera_id, claimant, caller.runtime.config.ptz.lease_idle_s)
    d = claimed.decision
    audit: dict[str, Any] = {"target_type": "camera", "target_id": camera_id,
             "department": camera["department_id"]}
    if not d.allowed:
        extra: dict[str, Any] = ({"lock": _lock_out(claimed.lock)}
                                 if d.outcome is Outcome.locked
                 else {"holder": _holder_out(d.holder)})
        caller.audit("ptz.refused", command=command, code=d.outcome.value, **extra, **audit)
        caller.db.commit()
        raise CodedError(409, _refusal(d.outcome, extra), d.outcome.value, extra)
    if d.loser is not None:
        caller.audit("ptz.take_over", loser=d.loser.actor, loser_department=d.loser.department,
                     loser_priority=d.loser.priority, priority=claimant.priority, **audit)
    caller.audit("ptz.command", command=command, lease=d.outcome.value, **detail, **audit)
    try:
        result = _run(caller, camera_id, fn)
    except (NotSupported, DriverError) as exc:
        raise _failed(caller, camera, command, exc) from exc
    return {"camera": camera_id, "command": command, "outcome": d.outcome.value,
            "lease_expires_at": claimed.expires_at,
            "preset": result if isinstance(result, str) else None}


def _holder_out(h: Holder | None) -> dict[str, Any] | None:
    return None if h is None else {"actor": h.actor, "department": h.department,
                                   "priority": h.priority}


def _lock_out(lock: Any) -> dict[str, Any] | None:
    return None if lock is None else {"department": lock.department, "by": lock.by,
                                      "reason": lock.reason, "incident_id": lock.incident_id}


def _refusal(outcome: Outcome, extra: dict[str, Any]) -> str:
    if outcome is Outcome.locked:
        return f"camera locked by {extra['lock']['department']}: {extra['lock']['reason']}"
    h = extra["holder"]
    return (f"camera controlled by {h['actor']} ({h['department']}, priority {h['priority']}), "
            "equal to or above yours")


PREFIX = "/cameras/{camera_id}/ptz"
COMMAND: dict[str, Any] = {"response_model": CommandOut, "responses": {
    403: {"description": "may watch, not move (ptz_not_granted)"},
    409: {"description": "ptz_controlled_by_higher (holder), ptz_locked (lock), or "
          "ptz_not_supported (the hub cannot steer this camera)"},
    502: {"description": "ptz_camera_failed: the camera did not do it"}}}


@router.post(f"{PREFIX}/move", summary="Move continuously (speeds) until stop", **COMMAND)
def move(camera_id: Ident, body: MoveIn, caller: Caller = require(*ROLES)) -> dict[str, Any]:
    return _command(caller, camera_id, "move",
                    lambda d: d.continuous_move(body.pan, body.tilt, body.zoom),
                    **body.model_dump())


@router.post(f"{PREFIX}/stop", summary="Stop moving and zooming", **COMMAND)
def stop(camera_id: Ident, caller: Caller = require(*ROLES)) -> dict[str, Any]:
    return _command(caller, camera_id, "stop", lambda d: d.stop())


@router.post(f"{PREFIX}/zoom", summary="Zoom continuously (speed) until stop", **COMMAND)
def zoom(camera_id: Ident, body: ZoomIn, caller: Caller = require(*ROLES)) -> dict[str, Any]:
    return _command(caller, camera_id, "zoom", lambda d: d.continuous_move(0.0, 0.0, body.speed),
                    **body.model_dump())


@router.post(f"{PREFIX}/absolute", summary="Move to a position", **COMMAND)
def absolute(camera_id: Ident, body: AbsoluteIn, caller: Caller = require(*ROLES)
             ) -> dict[str, Any]:
    return _command(caller, camera_id, "absolute",
                    lambda d: d.absolute_move(body.pan, body.tilt, body.zoom), **body.model_dump())


@router.post(f"{PREFIX}/relative", summary="Move by a step", **COMMAND)
def relative(camera_id: Ident, body: RelativeIn, caller: Caller = require(*ROLES)
             ) -> dict[str, Any]:
    return _command(caller, camera_id, "relative",
                    lambda d: d.relative_move(body.pan, body.tilt, body.zoom), **body.model_dump())


@router.post(f"{PREFIX}/preset/goto", summary="Go to a preset", **COMMAND)
def goto_preset(camera_id: Ident, body: GotoIn, caller: Caller = require(*ROLES)
                ) -> dict[str, Any]:
    return _command(caller, camera_id, "preset/goto", lambda d: d.goto_preset(body.token),
                    **body.model_dump())


@router.post(f"{PREFIX}/preset/set", summary="Store the current position as a preset",
             **COMMAND)
def set_preset(camera_id: Ident, body: SetPresetIn, caller: Caller = require(*ROLES)
               ) -> dict[str, Any]:
    return _command(caller, camera_id, "preset/set",
                    lambda d: d.set_preset(body.name, body.token), **body.model_dump())


@router.post(f"{PREFIX}/home", summary="Go to the home position", **COMMAND)
def home(camera_id: Ident, caller: Caller = require(*ROLES)) -> dict[str, Any]:
    return _command(caller, camera_id, "home", lambda d: d.home())


@router.get(PREFIX, response_model=PtzStateOut,
            summary="Who controls the camera, its lock, its presets")
def get_ptz(camera_id: Ident, caller: Caller = require(*ROLES)) -> dict[str, Any]:
    camera = caller.camera_or_404(camera_id)
    out = {"camera": camera_id, "may_move": caller.visibility.may_move_camera(
        camera["department_id"], camera["site_id"], camera["id"], camera["source_system"]),
        **store.state(caller.db, camera_id), "supported": True, "reason": None, "presets": None}
    try:
        presets = _run(caller, camera_id, lambda d: d.presets())
        out["presets"] = [{"token": p.token, "name": p.name} for p in presets]
    except NotSupported as exc:
        out.update(supported=False, reason=str(exc))
    except DriverError as exc:
        out["reason"] = str(exc)
    return out


def _own(caller: Caller, camera_id: str) -> dict[str, Any]:
    camera = caller.camera_or_404(camera_id)
    if camera["department_id"] != caller.department:
        raise CodedError(403, "only the camera's own department may lock it",
                         "ptz_lock_owner_only")
    return camera


@router.post(f"{PREFIX}/lock", response_model=LockOut,
             summary="Lock: only the own department may move the camera (an incident)")
def lock(camera_id: Ident, body: LockIn, caller: Caller = require(*LOCK_ROLES)
         ) -> dict[str, Any]:
    _own(caller, camera_id)
    incident = None if body.incident is None else str(body.incident)
    if incident is not None and caller.db.execute(
        "SELECT 1 FROM incidents WHERE id = %s AND department_id = %s",
        (incident, caller.department)).fetchone() is None:
        raise unprocessable("incident: not one of the department's incidents")
    loser = store.lock(caller.db, camera_id, _holder(caller), body.reason, incident)
    ended = _holder_out(loser)
    caller.audit("ptz.lock", target_type="camera", target_id=camera_id, reason=body.reason,
                 incident=incident, ended_lease=ended)
    return {"camera": camera_id, **store.state(caller.db, camera_id), "ended_lease": ended}


@router.delete(f"{PREFIX}/lock", status_code=204, summary="Unlock the camera")
def unlock(camera_id: Ident, caller: Caller = require(*LOCK_ROLES)) -> Response:
    _own(caller, camera_id)
    if not store.unlock(caller.db, camera_id):
        raise CodedError(404, "the camera is not locked", "ptz_not_locked")
    caller.audit("ptz.unlock", target_type="camera", target_id=camera_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/ptz/notices", response_model=list[NoticeOut],
            summary="Cameras the caller lost (taken over, or locked by their owner)")
def notices(
    after: Annotated[int, Query(ge=0, description="Only notices after this id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    caller: Caller = require(*ROLES),
) -> list[dict[str, Any]]:
    return store.notices(caller.db, _holder(caller), after, limit)
