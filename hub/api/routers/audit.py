"""The audit log for auditors: entries touching their department, chain verification, roots."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Query
from psycopg.rows import dict_row
from pydantic import BaseModel

from hub.audit import chain, roots
from hub.auth.access import Caller, require
from hub.auth.roles import Role

router = APIRouter(prefix="/audit", tags=["audit"])


class Entry(BaseModel):
    seq: int
    at: datetime
    actor: str
    actor_department: str | None
    action: str
    target_type: str | None
    target_id: str | None
    department: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class Page(BaseModel):
    items: list[Entry]
    next_after_seq: int | None


class Verification(BaseModel):
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: list[dict[str, Any]]


class Root(BaseModel):
    date: str
    head_seq: int
    head_hash: str
    key_id: str
    signature: str


@router.get("", response_model=Page, summary="Entries by or about the auditor's department")
def list_entries(
    after_seq: int = Query(0, ge=0, le=2**62),
    limit: int = Query(100, ge=1, le=1000),
    action: str | None = Query(None, max_length=64, pattern=r"^[a-z_.]+$"),
    caller: Caller = require(Role.auditor),
) -> dict[str, Any]:
    with caller.db.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT * FROM audit_log WHERE seq > %s AND (department = %s OR actor_department = %s)"
            " AND (%s::text IS NULL OR action = %s) ORDER BY seq LIMIT %s",
            (after_seq, caller.department, caller.department, action, action, limit),
        ).fetchall()
    caller.audit("audit.read", after_seq=after_seq, returned=len(rows))
    return {"items": rows, "next_after_seq": rows[-1]["seq"] if len(rows) == limit else None}


@router.get(
    "/verify",
    response_model=Verification,
    summary="Check the whole chain: edited, deleted or reordered entries",
)
def verify(caller: Caller = require(Role.auditor)) -> dict[str, Any]:
    result = chain.verify(caller.db).as_dict()
    caller.audit("audit.verify", ok=result["ok"], entries=result["entries"])
    return result


@router.get(
    "/roots/{day}", response_model=Root, summary="The signed chain head at the end of a day"
)
def day_root(day: date, caller: Caller = require(Role.auditor)) -> dict[str, Any]:
    if day > datetime.now(UTC).date():
        from hub.api.common import unprocessable

        raise unprocessable("that day has not ended")
    return roots.signed_root(caller.db, day, caller.runtime.signing_key)
