"""API keys for services (the media relay, integrations), managed by a department's admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from psycopg.rows import dict_row
from pydantic import AwareDatetime, BaseModel, Field

from hub.api.common import Strict, Text, not_found
from hub.auth import accounts
from hub.auth.access import Caller, require
from hub.auth.roles import Role

router = APIRouter(prefix="/api-keys", tags=["api-keys"])
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]


class KeyIn(Strict):
    name: Text
    roles: list[Role] = Field(min_length=1, max_length=5)
    expires_at: AwareDatetime | None = None


class KeyOut(BaseModel):
    id: str
    name: str
    department: str
    roles: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class NewKey(KeyOut):
    key: str = Field(description="The key itself: shown this once, stored only as a digest.")


SELECT = (
    "SELECT id, name, department_id AS department, roles, created_by, created_at, expires_at,"
    " revoked_at, last_used_at FROM api_keys"
)


@router.get("", response_model=list[KeyOut], summary="The department's API keys")
def list_keys(caller: Caller = require(Role.admin)) -> list[dict[str, Any]]:
    with caller.db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            SELECT + " WHERE department_id = %s ORDER BY created_at", (caller.department,)
        ).fetchall()


@router.post("", response_model=NewKey, status_code=201, summary="Create an API key")
def create_key(body: KeyIn, caller: Caller = require(Role.admin)) -> dict[str, Any]:
    roles = sorted({r.value for r in body.roles if r != Role.admin})
    key_id, value = accounts.create_api_key(
        caller.db, body.name, caller.department, roles, caller.principal.actor, body.expires_at
    )
    caller.audit("api_key.create", target_type="api_key", target_id=key_id, roles=roles)
    with caller.db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(SELECT + " WHERE id = %s", (key_id,)).fetchone()
    return {**(row or {}), "key": value}


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key (at once)")
def revoke_key(key_id: KeyId, caller: Caller = require(Role.admin)) -> Response:
    done = caller.db.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE id = %s AND department_id = %s"
        " AND revoked_at IS NULL",
        (key_id, caller.department),
    ).rowcount
    if not done:
        raise not_found("API key")
    caller.audit("api_key.revoke", target_type="api_key", target_id=key_id)
    return Response(status_code=204)
