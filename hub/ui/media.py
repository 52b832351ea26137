"""``GET /api/v1/events/{id}/media/{n}``: an event's snapshot or picture, for the event console.

Served only to callers who may see the event (same rule and 404 as ``GET /events/{id}``),
and audited. What the hub holds (an edge box's uploaded copy, by sha256, or a file in the
media store) is served as it is; otherwise an ``http(s)`` URI (an edge box's snapshot not
uploaded yet) is fetched only when the event pins its sha256, and returned only when the
bytes match it: an event cannot make the hub read back arbitrary content.
"""

from __future__ import annotations

import hashlib
from typing import Annotated
from uuid import UUID

import httpx
from fastapi import APIRouter, HTTPException, Path, Response

from core.http import sync_client
from hub.api.routers.events import fetch_event
from hub.auth.access import Caller, require
from hub.auth.roles import Role
from hub.store.media import MediaMismatch, load_media

router = APIRouter(prefix="/events", tags=["events"])
MAX_BYTES = 16 * 1024 * 1024
SHOWN = {"snapshot", "picture", "plate"}


def _fetch_pinned(uri: str, sha256: str) -> bytes:
    try:
        with sync_client(timeout=httpx.Timeout(5.0), follow_redirects=False) as client, \
                client.stream("GET", uri) as r:
            if r.status_code != 200:
                raise HTTPException(502, f"media source answered {r.status_code}")
            data = b""
            for chunk in r.iter_bytes():
                data += chunk
                if len(data) > MAX_BYTES:
                    raise HTTPException(502, "media too large")
    except httpx.HTTPError:
        raise HTTPException(502, "media source unreachable") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise HTTPException(502, "media does not match the sha256 the event pinned")
    return data


@router.get("/{event_id}/media/{index}", response_class=Response,
            summary="One of an event's pictures (snapshot, picture, plate)",
            responses={200: {"content": {"image/jpeg": {}}}})
def event_media(event_id: UUID, index: Annotated[int, Path(ge=0, lt=32)],
                caller: Caller = require(Role.analyst, Role.operator)) -> Response:
    event = fetch_event(caller, event_id)
    refs = event.get("media") or []
    if index >= len(refs) or refs[index].get("kind") not in SHOWN:
        raise HTTPException(404, "no such picture")
    ref = refs[index]
    uri, sha = str(ref.get("uri", "")), ref.get("sha256")
    try:
        held = load_media(caller.db, ref, caller.runtime.media_dir, MAX_BYTES)
    except MediaMismatch as exc:
        raise HTTPException(409, str(exc)) from None
    if held is not None:
        data = held[0]
    elif uri.startswith(("http://", "https://")) and sha:
        data = _fetch_pinned(uri, sha)  # not uploaded (yet): ask the box, bytes pinned
    else:
        raise HTTPException(404, "picture not available at the hub")
    caller.audit("events.media.get", target_type="event", target_id=str(event_id),
                 department=event["department"], index=index)
    ctype = str(ref.get("content_type") or "image/jpeg")
    if not ctype.startswith("image/"):
        ctype = "application/octet-stream"
    return Response(data, media_type=ctype, headers={"Cache-Control": "private, max-age=300",
                                                     "X-Content-Type-Options": "nosniff"})
