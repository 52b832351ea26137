"""Serves the web UI (``/ui/``) and a same-origin gateway to the relay (``/ui/relay/...``).

The gateway lets the browser reach WHEP, snapshots and clips through the hub's own
origin (one port to open on a government network, no CORS): each request carries
the camera's play token (from ``POST /api/v1/cameras/{id}/play``), which the relay
verifies; the hub only forwards. Relay health is filtered to the caller's cameras.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from psycopg import sql

from adapters.model import Ident
from hub.api.routers.cameras import COLS as CAMERA_COLS
from hub.auth.access import Anonymous, Caller, public, require

STATIC = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False)
FORWARD_HEADERS = ("authorization", "content-type")
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def _relay_base(ctx: Anonymous | Caller) -> str:
    cfg = ctx.runtime.config
    return (cfg.ui.relay_url or cfg.access.relay_http_url).rstrip("/")


async def _forward(ctx: Anonymous, request: Request, method: str, path: str,
                   body: bytes | None = None) -> Response:
    headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARD_HEADERS}
    params = {k: v for k, v in request.query_params.items() if k in ("token", "width")}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            r = await client.request(method, f"{_relay_base(ctx)}{path}", headers=headers,
                                     params=params, content=body)
    except httpx.HTTPError:
        raise HTTPException(502, "relay unreachable") from None
    keep = {k: v for k, v in r.headers.items()
            if k.lower() in ("content-type", "etag", "x-content-sha256", "cache-control")}
    if "location" in r.headers:  # WHEP resource: point the browser back through the gateway
        keep["Location"] = "/ui/relay" + r.headers["location"]
    return Response(r.content, status_code=r.status_code, headers=keep)


TOKEN_RULE = "the play token sent with the request authorises it; the relay verifies it"


@router.post("/ui/relay/whep/{camera_id}")
async def whep_offer(camera_id: Ident, request: Request,
                     ctx: Anonymous = public(TOKEN_RULE, db=False)) -> Response:
    body = await request.body()
    if len(body) > 64 * 1024:
        raise HTTPException(413, "SDP offer too large")
    return await _forward(ctx, request, "POST", f"/whep/{camera_id}", body)


@router.delete("/ui/relay/whep/{camera_id}/{session_id}")
async def whep_delete(camera_id: Ident, session_id: Ident,
                      request: Request, ctx: Anonymous = public(TOKEN_RULE, db=False)) -> Response:
    return await _forward(ctx, request, "DELETE", f"/whep/{camera_id}/{session_id}")


@router.get("/ui/relay/snapshot/{camera_id}.jpg")
async def snapshot(camera_id: Ident, request: Request,
                   ctx: Anonymous = public(TOKEN_RULE, db=False)) -> Response:
    return await _forward(ctx, request, "GET", f"/snapshot/{camera_id}.jpg")


@router.post("/ui/relay/clips/{camera_id}")
async def clip(camera_id: Ident, request: Request,
               ctx: Anonymous = public(TOKEN_RULE, db=False)) -> Response:
    body = await request.body()
    if len(body) > 4096:
        raise HTTPException(413, "clip request too large")
    return await _forward(ctx, request, "POST", f"/clips/{camera_id}", body)


@router.get("/ui/relay/clips/{camera_id}/{clip_id}.mp4")
async def clip_file(camera_id: Ident, clip_id: Ident, request: Request,
                    ctx: Anonymous = public(TOKEN_RULE, db=False)) -> Response:
    return await _forward(ctx, request, "GET", f"/clips/{camera_id}/{clip_id}.mp4")


@router.get("/ui/relay/health")
async def relay_health(caller: Caller = require(hold_db=False)) -> list[dict[str, Any]]:
    """The relay's per-camera health, for the cameras the caller may watch only."""
    with caller.runtime.pool.connection() as conn:
        conn.execute("SELECT set_config('cityhub.department', %s, true)", (caller.department,))
        rows = conn.execute(sql.SQL("SELECT id FROM cameras WHERE {}").format(
            caller.visibility.sql("video", CAMERA_COLS))).fetchall()
    visible = {r[0] for r in rows}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            r = await client.get(f"{_relay_base(caller)}/health")
            r.raise_for_status()
            cams = r.json().get("cameras", [])
    except (httpx.HTTPError, ValueError):
        raise HTTPException(502, "relay unreachable") from None
    out = [c for c in cams if c.get("camera_id") in visible]
    for c in out:  # an upstream error could quote a URL: never show credentials
        if isinstance(c.get("error"), str):
            c["error"] = re.sub(r"//[^/@\s]+@", "//***@", c["error"])
    return out


@router.get("/ui/config.json")
def ui_config(ctx: Anonymous = public("map settings only; no data", db=False)) -> dict[str, Any]:
    ui = ctx.runtime.config.ui
    return {"tile_url": ui.tile_url, "tile_attribution": ui.tile_attribution,
            "tile_max_zoom": ui.tile_max_zoom, "wall_max_tiles": ui.wall_max_tiles}


@router.get("/")
def root(ctx: Anonymous = public("redirect to the UI", db=False)) -> RedirectResponse:
    return RedirectResponse("/ui/")


@router.get("/ui/{path:path}")
def asset(path: str,
          ctx: Anonymous = public("the UI's static files; no data", db=False)) -> Response:
    target = (STATIC / (path or "index.html")).resolve()
    if not target.is_relative_to(STATIC.resolve()) or not target.is_file():
        raise HTTPException(404, "not found")
    media = "text/javascript" if target.suffix == ".js" else None
    return FileResponse(target, media_type=media, headers={"Cache-Control": "no-cache"})
