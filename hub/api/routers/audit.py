"""The audit log for auditors: entries touching their department, chain verification, roots."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from psycopg.rows import dict_row
from pydantic import AwareDatetime, BaseModel

from hub.api.common import unprocessable
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
    next_before_seq: int | None = None


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
    before_seq: int | None = Query(
        None, ge=1, le=2**62, description="Newest first: entries before this seq (paging down)."
    ),
    limit: int = Query(100, ge=1, le=1000),
    action: str | None = Query(None, max_length=64, pattern=r"^[a-z_.]+$"),
    action_prefix: str | None = Query(
        None, max_length=64, pattern=r"^[a-z_.]+$", description="e.g. grant. or video."
    ),
    actor: str | None = Query(None, max_length=200, description="Part of the actor's name."),
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    caller: Caller = require(Role.auditor),
) -> dict[str, Any]:
    newest_first = before_seq is not None
    with caller.db.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT * FROM audit_log WHERE seq > %(after)s AND seq < %(before)s"
            " AND (department = %(dept)s OR actor_department = %(dept)s)"
            " AND (%(action)s::text IS NULL OR action = %(action)s)"
            " AND (%(prefix)s::text IS NULL OR starts_with(action, %(prefix)s))"
            " AND (%(actor)s::text IS NULL OR strpos(actor, %(actor)s) > 0)"
            " AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR at < %(until)s)"
            f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT %(limit)s",
            {"after": after_seq, "before": before_seq or 2**62 + 1, "dept": caller.department,
             "action": action, "prefix": action_prefix, "actor": actor, "since": since,
             "until": until, "limit": limit},
        ).fetchall()
    caller.audit("audit.read", after_seq=after_seq, before_seq=before_seq, returned=len(rows))
    full = len(rows) == limit
    return {
        "items": rows,
        "next_after_seq": rows[-1]["seq"] if full and not newest_first else None,
        "next_before_seq": rows[-1]["seq"] if full and newest_first else None,
    }


@router.get(
    "/verify",
    response_model=Verification,
    summary="Check the whole chain: edited, deleted or reordered entries",
)
def verify(caller: Caller = require(Role.auditor)) -> dict[str, Any]:
    result = chain.verify(caller.db).as_dict()
    caller.audit("audit.verify", ok=result["ok"], entries=result["entries"])
    return result


def _root(caller: Caller, day: date) -> dict[str, Any]:
    if day > datetime.now(UTC).date():
        raise unprocessable("that day has not ended")
    return roots.signed_root(caller.db, day, caller.runtime.signing_key)


@router.get(
    "/roots/{day}", response_model=Root, summary="The signed chain head at the end of a day"
)
def day_root(day: date, caller: Caller = require(Role.auditor)) -> dict[str, Any]:
    return _root(caller, day)


@router.get(
    "/roots/{day}/download",
    response_model=Root,
    summary="The day's signed root as a file to keep off the hub",
)
def download_root(day: date, caller: Caller = require(Role.auditor)) -> JSONResponse:
    """The same root as an attachment (audit-root-<day>.json, as ``cityhub audit`` exports)."""
    root = _root(caller, day)
    caller.audit("audit.root.download", day=day.isoformat(), head_seq=root["head_seq"])
    name = f"audit-root-{day.isoformat()}.json"
    return JSONResponse(root, headers={"Content-Disposition": f'attachment; filename="{name}"'})
