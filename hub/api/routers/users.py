"""A department's users, managed by its admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Response
from psycopg import errors
from psycopg.rows import dict_row
from pydantic import BaseModel, Field, StringConstraints

from hub.api.common import CodedError, Strict, Text, not_found
from hub.auth import accounts, throttle
from hub.auth.access import Caller, require
from hub.auth.roles import Role

router = APIRouter(prefix="/users", tags=["users"])
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")]
Password = Annotated[str, StringConstraints(min_length=12, max_length=256)]
UserRole = Annotated[Role, Field(description="relay is for API keys only")]


class UserIn(Strict):
    username: Username
    password: Password
    display_name: Text | None = None
    roles: list[UserRole] = Field(default_factory=list, max_length=5)


class UserPatch(Strict):
    roles: list[UserRole] | None = Field(None, max_length=5)
    disabled: bool | None = None
    password: Password | None = None
    display_name: Text | None = None


class UserOut(BaseModel):
    id: UUID
    username: str
    display_name: str
    department: str
    roles: list[str]
    disabled: bool
    locked_until: datetime | None = Field(
        None, description="Until when failed logins hold back a sign-in (unlock lifts it)."
    )


SELECT = (
    "SELECT id, username, display_name, department_id AS department, roles,"
    " disabled_at IS NOT NULL AS disabled FROM users"
)


def _with_locks(caller: Caller, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with ``locked_until`` from the login throttle (as of the hub's clock)."""
    held = throttle.held_until(
        caller.db,
        caller.runtime.config.access.login_throttle,
        [r["username"] for r in rows],
        caller.runtime.clock(),
    )
    return [{**r, "locked_until": held.get(r["username"])} for r in rows]


def _get(caller: Caller, user_id: UUID) -> dict[str, Any]:
    with caller.db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            SELECT + " WHERE id = %s AND department_id = %s", (user_id, caller.department)
        ).fetchone()
    if row is None:
        raise not_found("user")
    return _with_locks(caller, [row])[0]


@router.get("", response_model=list[UserOut], summary="Users of the caller's department")
def list_users(caller: Caller = require(Role.admin)) -> list[dict[str, Any]]:
    with caller.db.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            SELECT + " WHERE department_id = %s ORDER BY username", (caller.department,)
        ).fetchall()
    return _with_locks(caller, rows)


@router.post("", response_model=UserOut, status_code=201, summary="Create a user")
def create_user(body: UserIn, caller: Caller = require(Role.admin)) -> dict[str, Any]:
    roles = [r.value for r in body.roles if r != Role.relay]
    try:
        with caller.db.transaction():
            uid = accounts.create_user(
                caller.db,
                body.username,
                body.password,
                caller.department,
                roles,
                body.display_name or "",
            )
    except errors.UniqueViolation:
        raise CodedError(409, "username taken", "username_taken") from None
    caller.audit("user.create", target_type="user", target_id=body.username, roles=roles)
    return _get(caller, UUID(uid))


def _keep_own_admin(caller: Caller, user_id: UUID, body: UserPatch) -> None:
    """An admin may not lock the department out of its own administration by accident."""
    if caller.principal.kind != "user" or caller.principal.id != str(user_id):
        return
    if body.disabled or (body.roles is not None and Role.admin not in body.roles):
        raise CodedError(409, "admins cannot disable themselves or drop their own admin role",
                         "own_admin")


@router.patch("/{user_id}", response_model=UserOut, summary="Change roles, disable, reset password")
def update_user(
    user_id: UUID, body: UserPatch, caller: Caller = require(Role.admin)
) -> dict[str, Any]:
    row = _get(caller, user_id)
    _keep_own_admin(caller, user_id, body)
    changes: dict[str, Any] = {}
    if body.roles is not None:
        changes["roles"] = sorted({r.value for r in body.roles if r != Role.relay})
        caller.db.execute("UPDATE users SET roles = %s WHERE id = %s", (changes["roles"], user_id))
    if body.display_name is not None:
        caller.db.execute(
            "UPDATE users SET display_name = %s WHERE id = %s", (body.display_name, user_id)
        )
    if body.disabled is not None:
        changes["disabled"] = body.disabled
        caller.db.execute(
            "UPDATE users SET disabled_at = CASE WHEN %s THEN coalesce(disabled_at, now()) END"
            " WHERE id = %s",
            (body.disabled, user_id),
        )
        if body.disabled:
            caller.db.execute(
                "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = %s"
                " AND revoked_at IS NULL",
                (user_id,),
            )
    if body.password is not None:
        changes["password"] = "reset"
        accounts.set_password(caller.db, str(user_id), body.password)
    caller.audit("user.update", target_type="user", target_id=row["username"], **changes)
    return _get(caller, user_id)


@router.post("/{user_id}/unlock", status_code=204, summary="Lift the login throttle on a user")
def unlock_user(user_id: UUID, caller: Caller = require(Role.admin)) -> Response:
    """Forget the user's failed logins from every source (hub/auth/README.md, Login throttle)."""
    row = _get(caller, user_id)
    cleared = throttle.lift(caller.db, row["username"])
    caller.audit("user.unlock", target_type="user", target_id=row["username"], cleared=cleared)
    return Response(status_code=204)
