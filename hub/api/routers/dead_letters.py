"""Dead letters for a department's admins: what its systems sent that the hub could not store.

A source that sends what its adapter cannot read (a firmware update, a clock gone wrong, a
new field) fills the dead-letter table, and the alerts say so (deploy/prometheus/rules.yml).
The admin who manages the department's systems sees here what was refused, why, and the
payload itself, to fix the source or report the adapter. Only the department's own letters
(row-level security on ``dead_letters.department_id``); every read is in the audit log,
since payloads are the systems' raw records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from psycopg.rows import dict_row
from pydantic import AwareDatetime, BaseModel, Field

from hub.api.common import not_found
from hub.auth.access import Caller, require
from hub.auth.roles import Role
from hub.store.dead_letters import Selection

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])
#: Bytes of each payload shown in a list (the whole one is ``/{id}/payload``).
PREVIEW_BYTES = 400


class Letter(BaseModel):
    id: int
    received_at: datetime
    topic: str = Field(description="The MQTT topic, or the path that refused it (ingest).")
    reason: str = Field(description="Why it was not stored, naming the field at fault.")
    payload_size: int = Field(description="Bytes received (kept up to the store's limit).")
    preview: str = Field(description=f"The payload's first {PREVIEW_BYTES} bytes as text.")


class Page(BaseModel):
    items: list[Letter]
    next_before_id: int | None = Field(description="Older letters: pass as before_id.")


class TopicCount(BaseModel):
    topic: str
    n: int
    last_reason: str


class HourCount(BaseModel):
    hour: datetime
    n: int


class Summary(BaseModel):
    since: datetime
    total: int
    per_hour: list[HourCount] = Field(description="Every hour of the window, zeros included.")
    by_topic: list[TopicCount] = Field(description="The 20 topics with most letters.")


@router.get("", response_model=Page, summary="The department's dead letters, newest first")
def list_letters(
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    topic_prefix: str | None = Query(None, max_length=300),
    reason: str | None = Query(None, max_length=200, description="Part of the reason."),
    before_id: int | None = Query(None, ge=1, le=2**62),
    limit: int = Query(100, ge=1, le=500),
    caller: Caller = require(Role.admin),
) -> dict[str, Any]:
    where, params = Selection(caller.department, topic_prefix, reason, since, until).where()
    with caller.db.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT id, received_at, topic, reason, payload_size,"
            " substring(payload FROM 1 FOR %(preview)s) AS head FROM dead_letters"
            " WHERE department_id = %(own)s AND id < %(before)s" + where +
            " ORDER BY id DESC LIMIT %(limit)s",
            {**params, "preview": PREVIEW_BYTES, "own": caller.department,
             "before": before_id or 2**62, "limit": limit},
        ).fetchall()
    caller.audit("dead_letters.read", department=caller.department, before_id=before_id,
                 returned=len(rows))
    for r in rows:
        r["preview"] = bytes(r.pop("head")).decode("utf-8", "replace")
    return {"items": rows, "next_before_id": rows[-1]["id"] if len(rows) == limit else None}


@router.get("/summary", response_model=Summary, summary="Letters per hour and per topic")
def summary(
    hours: int = Query(24, ge=1, le=24 * 31),
    caller: Caller = require(Role.admin),
) -> dict[str, Any]:
    now = datetime.now(UTC)
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    with caller.db.cursor(row_factory=dict_row) as cur:
        per_hour = cur.execute(
            "SELECT h AS hour, count(d.id) AS n"
            " FROM generate_series(%(since)s::timestamptz, %(now)s, '1 hour') AS h"
            " LEFT JOIN dead_letters d ON d.department_id = %(dept)s"
            " AND d.received_at >= h AND d.received_at < h + interval '1 hour'"
            " GROUP BY h ORDER BY h",
            {"since": since, "now": now, "dept": caller.department},
        ).fetchall()
        by_topic = cur.execute(
            "SELECT topic, count(*) AS n,"
            " (array_agg(reason ORDER BY id DESC))[1] AS last_reason FROM dead_letters"
            " WHERE department_id = %s AND received_at >= %s"
            " GROUP BY topic ORDER BY n DESC, topic LIMIT 20",
            (caller.department, since),
        ).fetchall()
    caller.audit("dead_letters.summary", department=caller.department, hours=hours)
    return {"since": since, "total": sum(r["n"] for r in per_hour), "per_hour": per_hour,
            "by_topic": by_topic}


@router.get("/{letter_id}/payload", summary="One letter's payload, as it was received",
            response_class=Response)
def payload(
    letter_id: Annotated[int, Path(ge=1, le=2**62)], caller: Caller = require(Role.admin)
) -> Response:
    row = caller.db.execute(
        "SELECT payload, topic FROM dead_letters WHERE id = %s AND department_id = %s",
        (letter_id, caller.department),
    ).fetchone()
    if row is None:
        raise not_found("dead letter")
    caller.audit("dead_letters.payload", target_type="dead_letter", target_id=str(letter_id),
                 department=caller.department, topic=row[1][:300])
    return Response(bytes(row[0]), media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="dead-letter-{letter_id}.bin"'})
