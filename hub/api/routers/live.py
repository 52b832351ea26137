"""Live events over Server-Sent Events, filtered by the caller's rights (see hub.api.live).

Each frame's ``id`` is ``<subscribed at>.<received_at>-<event id>`` (times in µs): a
client that reconnects with ``Last-Event-ID`` (EventSource does it by itself) resumes
from there, so a dropped connection or the end of a stream's ``seconds`` loses nothing.
Delivery is at least once (rows committed out of order are looked for ``OVERLAP`` back,
never before the original subscription): dedupe by event id. A resume point older than
``RESUME_MAX`` starts ``RESUME_MAX`` back, announced by an ``event: gap`` frame.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import StreamingResponse
from psycopg import sql
from psycopg.rows import dict_row

from core.http import EVENT_STREAM_HEADERS
from hub.api.routers.events import COLS, _normalise
from hub.auth.access import Caller, audit_now, recheck, require
from hub.auth.roles import Role

router = APIRouter(prefix="/live", tags=["live"])
#: Rows are committed out of received_at order by concurrent writers: look back this far.
OVERLAP = timedelta(seconds=10)
POLL_S = 5.0
BATCH = 500
RESUME_MAX = timedelta(hours=1)


def _us(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def _at(micros: str) -> datetime:
    return datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC)


def frame_id(floor: datetime, event: dict[str, Any]) -> str:
    return f"{_us(floor)}.{_us(event['received_at'])}-{event['id']}"


def resume_point(last_event_id: str | None) -> tuple[datetime, datetime, str] | None:
    """(subscribed at, received_at, event id) of a frame this API sent, else None."""
    if not last_event_id:
        return None
    times, _, event_id = last_event_id.strip().partition("-")
    floor, _, since = times.partition(".")
    try:
        return _at(floor), _at(since), str(UUID(event_id))
    except (ValueError, OverflowError, OSError):
        return None  # not ours (or mangled): start afresh


def _fetch(
    caller: Caller, since: datetime | None, sent: set[str], floor: datetime | None = None
) -> tuple[list[dict[str, Any]], datetime | None]:
    runtime = caller.runtime
    with runtime.pool.connection() as conn:
        try:
            now_caller = recheck(conn, caller)
        except HTTPException:
            return [], None  # the caller lost its access: end the stream
        if since is None:  # start: what is already there only marks the starting line
            row = conn.execute("SELECT now()").fetchone()
            assert row is not None
            since = row[0]
            start = True
        else:
            start = False
        query = sql.SQL(
            "SELECT * FROM events WHERE received_at > %s"
            " AND occurred_at > now() - interval '2 days'"
            " AND {} ORDER BY received_at, id LIMIT %s"
        ).format(now_caller.visibility.sql("events", COLS))
        with conn.cursor(row_factory=dict_row) as cur:
            low = since - OVERLAP if floor is None else max(since - OVERLAP, floor)
            rows = cur.execute(query, (low, BATCH)).fetchall()
    fresh = [r for r in rows if str(r["id"]) not in sent]
    newest = max([since, *(r["received_at"] for r in rows)])
    if start:
        return [{"id": r["id"]} for r in rows], since
    return [_normalise(r) for r in fresh], newest


async def _stream(
    caller: Caller, seconds: int, resume: tuple[datetime, datetime, str] | None
) -> AsyncIterator[bytes]:
    hub = caller.runtime.live
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    sent: dict[str, float] = {}
    count = 0
    generation = 0
    gap: datetime | None = None
    if resume is None:
        already, since = await asyncio.to_thread(_fetch, caller, None, set())
        sent.update({str(e["id"]): loop.time() for e in already})
        floor = since
    else:
        floor, since, last = resume
        oldest = datetime.now(UTC) - RESUME_MAX
        if since < oldest:
            since = floor = gap = oldest
        sent[last] = loop.time()
    await asyncio.to_thread(
        audit_now,
        caller,
        "events.live.subscribe",
        target_type="events",
        seconds=seconds,
        resumed_from=None if resume is None or since is None else since.isoformat(),
    )
    yield b": subscribed\n\n"
    if gap is not None:
        yield f'event: gap\ndata: {{"since": "{gap.isoformat()}"}}\n\n'.encode()
    try:
        while since is not None and floor is not None and loop.time() < deadline:
            generation = await hub.wait(generation, min(POLL_S, max(0.0, deadline - loop.time())))
            events, since = await asyncio.to_thread(_fetch, caller, since, set(sent), floor)
            for e in events:
                sent[str(e["id"])] = loop.time()
                count += 1
                data = json.dumps(e, default=str, separators=(",", ":"))
                yield f"id: {frame_id(floor, e)}\nevent: event\ndata: {data}\n\n".encode()
            cutoff = loop.time() - 2 * OVERLAP.total_seconds()
            sent = {k: t for k, t in sent.items() if t > cutoff}
            if not events:
                yield b": keep-alive\n\n"
        if since is None:
            yield b'event: end\ndata: {"reason": "access ended"}\n\n'
    finally:
        await asyncio.to_thread(
            audit_now, caller, "events.live.unsubscribe", target_type="events", delivered=count
        )


@router.get(
    "/events",
    summary="Server-Sent Events of newly stored events the caller may see",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`event: event` frames, JSON data in EventOut's shape",
        }
    },
)
async def live_events(
    seconds: Annotated[
        int, Query(ge=1, le=86400, description="Stream length; reconnect after.")
    ] = 3600,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", max_length=200, description="Resume after this frame."),
    ] = None,
    caller: Caller = require(Role.analyst, Role.operator, hold_db=False),
) -> StreamingResponse:
    return StreamingResponse(
        _stream(caller, seconds, resume_point(last_event_id)),
        media_type="text/event-stream",
        headers=EVENT_STREAM_HEADERS,
    )
