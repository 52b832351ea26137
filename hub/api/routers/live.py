"""Live events over Server-Sent Events, filtered by the caller's rights (see hub.api.live)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse
from psycopg import sql
from psycopg.rows import dict_row

from hub.api.routers.events import COLS, _normalise
from hub.auth.access import Caller, audit_now, recheck, require
from hub.auth.roles import Role

router = APIRouter(prefix="/live", tags=["live"])
#: Rows are committed out of received_at order by concurrent writers: look back this far.
OVERLAP = timedelta(seconds=10)
POLL_S = 5.0
BATCH = 500


def _fetch(
    caller: Caller, since: datetime | None, sent: set[str]
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
            rows = cur.execute(query, (since - OVERLAP, BATCH)).fetchall()
    fresh = [r for r in rows if str(r["id"]) not in sent]
    newest = max([since, *(r["received_at"] for r in rows)])
    if start:
        return [{"id": r["id"]} for r in rows], since
    return [_normalise(r) for r in fresh], newest


async def _stream(caller: Caller, seconds: int) -> AsyncIterator[bytes]:
    hub = caller.runtime.live
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    sent: dict[str, float] = {}
    count = 0
    generation = 0
    already, since = await asyncio.to_thread(_fetch, caller, None, set())
    sent.update({str(e["id"]): loop.time() for e in already})
    await asyncio.to_thread(
        audit_now, caller, "events.live.subscribe", target_type="events", seconds=seconds
    )
    yield b": subscribed\n\n"
    try:
        while since is not None and loop.time() < deadline:
            generation = await hub.wait(generation, min(POLL_S, max(0.0, deadline - loop.time())))
            events, since = await asyncio.to_thread(_fetch, caller, since, set(sent))
            for e in events:
                sent[str(e["id"])] = loop.time()
                count += 1
                data = json.dumps(e, default=str, separators=(",", ":"))
                yield f"id: {e['id']}\nevent: event\ndata: {data}\n\n".encode()
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
    caller: Caller = require(Role.analyst, Role.operator, hold_db=False),
) -> StreamingResponse:
    return StreamingResponse(
        _stream(caller, seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
