"""Events: filtered, keyset-paginated lists; one event; time-bucketed counts.

Every query goes through ``hub.store.queries`` with the caller's visibility
compiled into its SQL; each query is written to the audit log with its filters.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import AwareDatetime, BaseModel, ValidationError

from adapters.model import Severity
from core.model import Ident, SourceSystem
from hub.api.common import not_found, unprocessable
from hub.auth.access import Caller, audit_now, require, store_query
from hub.auth.grants import to_store
from hub.auth.roles import Role
from hub.store import queries
from hub.store.filters import CountQuery, EventQuery

router = APIRouter(prefix="/events", tags=["events"])
COLS = {
    "department": "department_id",
    "site": "site_id",
    "camera": "camera_id",
    "system": "source_system",
    "kind": "kind",
    "event": "id",
}
IdsQ = Annotated[list[Ident] | None, Query(max_length=100)]
AttrQ = Annotated[
    list[Annotated[str, Query(max_length=200, pattern=r"^[^=\x00]{1,64}=[^\x00]{0,128}$")]] | None,
    Query(max_length=10, description="key=value, e.g. plate=LU1234"),
]


class EventOut(BaseModel):
    id: UUID
    occurred_at: datetime
    received_at: datetime | None = None
    source_system: str
    kind: str
    severity: int
    department: str
    site: str
    camera: str | None
    device: str | None
    location: dict[str, float] | None
    attributes: dict[str, Any]
    media: list[dict[str, Any]]
    wim: dict[str, Any] | None = None


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None


class BucketOut(BaseModel):
    bucket: datetime
    group: str | None
    n: int


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    """Store rows (column names) and store items (model names) into EventOut's shape."""
    get = row.get
    lat, lon = get("lat"), get("lon")
    loc = get("location")
    if loc is None and lat is not None and lon is not None:
        loc = {"lat": lat, "lon": lon}
    return {
        "id": get("id"),
        "occurred_at": get("occurred_at"),
        "received_at": get("received_at"),
        "source_system": str(get("source_system")),
        "kind": get("kind"),
        "severity": int(get("severity") or 0),
        "department": get("department_id") or get("department"),
        "site": get("site_id") or get("site"),
        "camera": get("camera_id", get("camera")),
        "device": get("device_id", get("device")),
        "location": loc,
        "attributes": get("attributes") or {},
        "media": get("media") or [],
        "wim": get("wim"),
    }


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    if hasattr(item, "model_dump"):
        return dict(item.model_dump())
    return dict(vars(item))


def _filters(
    start: datetime,
    end: datetime,
    kinds: list[str] | None,
    source_systems: list[SourceSystem] | None,
    sites: list[str] | None,
    cameras: list[str] | None,
    departments: list[str] | None,
    min_severity: Severity | None,
    attr: list[str] | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "start": start,
        "end": end,
        "kinds": kinds,
        "sites": sites,
        "cameras": cameras,
        "departments": departments,
        "source_systems": source_systems,
        "min_severity": min_severity,
    }
    if attr:
        out["attributes"] = dict(a.split("=", 1) for a in attr)
    return {k: v for k, v in out.items() if v not in (None, [])}


def _model(cls: type[BaseModel], fields: dict[str, Any]) -> Any:
    try:
        return cls(**fields)
    except ValidationError as exc:
        raise unprocessable(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from None


def fetch_event(caller: Caller, event_id: UUID) -> dict[str, Any]:
    """One event the caller may see, else 404 (same answer as for an unknown id)."""
    query = sql.SQL("SELECT * FROM events WHERE id = %s AND {} LIMIT 1").format(
        caller.visibility.sql("events", COLS)
    )
    with caller.db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, (event_id,)).fetchone()
    if row is None:
        raise not_found("event")
    return _normalise(row)


@router.get("", response_model=EventPage, summary="Events, newest first, with a keyset cursor")
async def list_events(
    start: AwareDatetime,
    end: AwareDatetime,
    kinds: IdsQ = None,
    source_systems: Annotated[list[SourceSystem] | None, Query(max_length=20)] = None,
    sites: IdsQ = None,
    cameras: IdsQ = None,
    departments: IdsQ = None,
    min_severity: Severity | None = None,
    attr: AttrQ = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    caller: Caller = require(Role.analyst, Role.operator, hold_db=False),
) -> dict[str, Any]:
    fields = _filters(
        start, end, kinds, source_systems, sites, cameras, departments, min_severity, attr
    )
    q = _model(EventQuery, {**fields, "limit": limit, "cursor": cursor})
    page = await store_query(caller, queries.query_events, q, to_store(caller.visibility, "events"))
    items = [_normalise(_as_dict(i)) for i in page.items]
    await asyncio.to_thread(
        audit_now,
        caller,
        "events.query",
        target_type="events",
        returned=len(items),
        filters={k: v for k, v in q.model_dump(mode="json").items() if v is not None},
    )
    return {"items": items, "next_cursor": page.next_cursor}


@router.get("/counts", response_model=list[BucketOut], summary="Time-bucketed event counts")
async def count_events(
    start: AwareDatetime,
    end: AwareDatetime,
    bucket: Literal["minute", "hour", "day"] = "hour",
    group_by: Literal["kind", "site", "source_system", "department"] | None = None,
    kinds: IdsQ = None,
    source_systems: Annotated[list[SourceSystem] | None, Query(max_length=20)] = None,
    sites: IdsQ = None,
    cameras: IdsQ = None,
    departments: IdsQ = None,
    min_severity: Severity | None = None,
    caller: Caller = require(Role.analyst, Role.operator, hold_db=False),
) -> list[dict[str, Any]]:
    fields = _filters(
        start, end, kinds, source_systems, sites, cameras, departments, min_severity, None
    )
    q = _model(CountQuery, {**fields, "bucket": bucket, "group_by": group_by})
    rows = await store_query(caller, queries.count_events, q, to_store(caller.visibility, "events"))
    out = []
    for r in rows:
        d = _as_dict(r)
        out.append({"bucket": d["bucket"], "group": d.get("group", d.get("key")), "n": d["n"]})
    await asyncio.to_thread(
        audit_now,
        caller,
        "events.count",
        target_type="events",
        buckets=len(out),
        filters={k: v for k, v in q.model_dump(mode="json").items() if v is not None},
    )
    return out


@router.get("/{event_id}", response_model=EventOut, summary="One event")
def get_event(
    event_id: UUID, caller: Caller = require(Role.analyst, Role.operator)
) -> dict[str, Any]:
    event = fetch_event(caller, event_id)
    caller.audit(
        "events.get", target_type="event", target_id=str(event_id), department=event["department"]
    )
    return event
