"""Serves the web UI (``/ui/``) and a same-origin gateway to the relay (``/ui/relay/...``).

The gateway lets the browser reach WHEP, snapshots, clips, the fMP4-over-WebSocket
fallback, recorded ranges and recorded playback (WebSocket) through the hub's own origin
(one port to open on a government network, no CORS): each request carries the camera's
play token (from ``POST /api/v1/cameras/{id}/play``), which the relay verifies; the hub
only forwards. Relay health and recording state are filtered to the caller's cameras. The
relay's browser modules (``streams/web``: WHEP, MSE and playback players) are served at
``/ui/stream/``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import websockets
from fastapi import APIRouter, HTTPException, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, RedirectResponse
from psycopg import sql

import streams.web
from core.http import async_client
from core.model import Ident
from hub.api.routers.cameras import COLS as CAMERA_COLS
from hub.auth.access import Anonymous, Caller, public, require
from hub.relays import relay_bases, relay_service_headers
from hub.ui.i18n import catalogue_json
from hub.ui.relay_wait import reach
from hub.ui.session_events import pipe_events

STATIC = Path(__file__).parent / "static"
STREAM_WEB = Path(streams.web.__file__).parent
router = APIRouter(include_in_schema=False)
FORWARD_HEADERS = ("authorization", "content-type")
FORWARD_PARAMS = ("token", "width", "start", "end", "profile")
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def _relay_base(ctx: Anonymous | Caller, camera_id: str | None = None) -> str:
    """Where the gateway sends a camera's requests: in a relay cluster (``cluster.nodes``)
    the camera's owner, so nothing depends on following a relay's redirect (a WebSocket
    cannot be redirected); else ``ui.relay_url`` or ``access.relay_http_url``."""
    cfg = ctx.runtime.config
    if camera_id is not None and cfg.cluster.nodes:
        return relay_bases(cfg, camera_id)[0]
    return (cfg.ui.relay_url or cfg.access.relay_http_url).rstrip("/")


def _relay_nodes(ctx: Anonymous | Caller) -> list[str]:
    """Every relay: the cluster's nodes, else the one relay."""
    nodes = ctx.runtime.config.cluster.nodes
    return [n.http_url.rstrip("/") for n in nodes] if nodes else [_relay_base(ctx)]


async def _forward(ctx: Anonymous, request: Request, method: str, camera_id: str, path: str,
                   body: bytes | None = None) -> Response:
    headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARD_HEADERS}
    params = {k: v for k, v in request.query_params.items() if k in FORWARD_PARAMS}
    try:
        # Redirects are followed (a 307 keeps method and body): ownership may have moved.
        async with async_client(timeout=TIMEOUT, follow_redirects=True) as client:
            r = await reach(lambda: client.request(
                method, f"{_relay_base(ctx, camera_id)}{path}", headers=headers, params=params,
                content=body), ctx.runtime.config.ui.relay_restart_wait_s)
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
    return await _forward(ctx, request, "POST", camera_id, f"/whep/{camera_id}", body)


@router.delete("/ui/relay/whep/{camera_id}/{session_id}")
async def whep_delete(camera_id: Ident, session_id: Ident,
                      request: Request, ctx: Anonymous = public(TOKEN_RULE, db=False)) -> Response:
    return await _forward(ctx, request, "DELETE", camera_id, f"/whep/{camera_id}/{session_id}")


@router.get("/ui/relay/whep/{camera_id}/{session_id}/events")
async def whep_events(camera_id: Ident, session_id: Ident,
                      ctx: Anonymous = public("the WHEP session id, handed to its viewer, is "
                                              "the capability", db=False)) -> Response:
    """The WHEP session's events, ending with ``relay-lost`` when the relay dies."""
    return await pipe_events(
        f"{_relay_base(ctx, camera_id)}/whep/{camera_id}/{session_id}/events")


@router.get("/ui/relay/sessions/{camera_id}/{session_id}")
async def view_state(camera_id: Ident, session_id: Ident, request: Request,
                     ctx: Anonymous = public("the session id, from the viewer's play token, is "
                                             "the capability", db=False)) -> Response:
    """Why a view ended (the player tells its viewer)."""
    return await _forward(ctx, request, "GET", camera_id, f"/sessions/{session_id}")


@router.get("/ui/relay/snapshot/{camera_id}.jpg")
async def snapshot(camera_id: Ident, request: Request,
                   ctx: Anonymous = public(TOKEN_RULE, db=False)) -> Response:
    return await _forward(ctx, request, "GET", camera_id, f"/snapshot/{camera_id}.jpg")


@router.post("/ui/relay/clips/{camera_id}")
async def clip(camera_id: Ident, request: Request,
               ctx: Anonymous = public(TOKEN_RULE, db=False)) -> Response:
    body = await request.body()
    if len(body) > 4096:
        raise HTTPException(413, "clip request too large")
    return await _forward(ctx, request, "POST", camera_id, f"/clips/{camera_id}", body)


@router.get("/ui/relay/clips/{camera_id}/{clip_id}.mp4")
async def clip_file(camera_id: Ident, clip_id: Ident, request: Request,
                    ctx: Anonymous = public(TOKEN_RULE, db=False)) -> Response:
    return await _forward(ctx, request, "GET", camera_id, f"/clips/{camera_id}/{clip_id}.mp4")


@router.get("/ui/relay/recordings/{camera_id}/segments")
async def recorded_ranges(camera_id: Ident, request: Request,
                          ctx: Anonymous = public(TOKEN_RULE, db=False)) -> Response:
    """Recorded segments and gaps between ``start`` and ``end`` (the token needs playback)."""
    return await _forward(ctx, request, "GET", camera_id, f"/recordings/{camera_id}/segments")


@router.websocket("/ui/relay/fmp4/{camera_id}")
async def fmp4(websocket: WebSocket, camera_id: Ident,
               ctx: Anonymous = public(TOKEN_RULE, db=False)) -> None:
    """Live fMP4 (``streams/fmp4``) piped through."""
    await _pipe(websocket, ctx, camera_id, "fmp4")


@router.websocket("/ui/relay/playback/{camera_id}")
async def playback(websocket: WebSocket, camera_id: Ident,
                   ctx: Anonymous = public(TOKEN_RULE, db=False)) -> None:
    """Recorded fMP4 and its play/pause/seek commands (``streams/playback``) piped through."""
    await _pipe(websocket, ctx, camera_id, "playback")


@router.websocket("/ui/relay/playback/{camera_id}/device")
async def device_playback(websocket: WebSocket, camera_id: Ident,
                          ctx: Anonymous = public(TOKEN_RULE, db=False)) -> None:
    """A GB/T 28181 channel's recording on its device (``start``, ``end``), as playback."""
    await _pipe(websocket, ctx, camera_id, "playback", "/device")


async def _pipe(websocket: WebSocket, ctx: Anonymous, camera_id: str, kind: str,
                tail: str = "") -> None:
    """Pipes the relay's WebSocket ``/{kind}/{camera}{tail}``: messages both ways and the
    relay's close code and reason (its refusals are 4000 + HTTP status)."""
    query = {k: v for k, v in websocket.query_params.items()
             if k in ("token", "profile", "start", "end")}
    base = _relay_base(ctx, camera_id)
    base = base.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    await websocket.accept()
    try:
        upstream = await reach(lambda: websockets.connect(
            f"{base}/{kind}/{camera_id}{tail}?{urlencode(query)}",
            open_timeout=5, max_size=16 * 1024 * 1024,
        ), ctx.runtime.config.ui.relay_restart_wait_s)
    except (OSError, websockets.WebSocketException, TimeoutError):
        await websocket.close(4502, "relay unreachable")
        return
    async with upstream:
        async def down() -> None:
            async for message in upstream:
                if isinstance(message, bytes):
                    await websocket.send_bytes(message)
                else:
                    await websocket.send_text(message)

        async def up() -> None:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                await upstream.send(message.get("bytes") or message.get("text") or "")

        tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        code, reason = upstream.close_code or 1000, upstream.close_reason or ""
    try:
        # Codes a peer may not send: 1005 (no code given), 1006 (dropped): say what happened.
        await websocket.close({1005: 1000, 1006: 4502}.get(code, code), reason[:120])
    except (RuntimeError, WebSocketDisconnect):
        pass  # the browser left first


@router.get("/ui/stream/{name}.js")
def stream_module(name: Ident,
                  ctx: Anonymous = public("the relay's browser players; no data", db=False),
                  ) -> Response:
    target = STREAM_WEB / f"{name}.js"
    if not target.is_file():
        raise HTTPException(404, "not found")
    return FileResponse(target, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


def _visible_cameras(caller: Caller) -> set[str]:
    """The cameras the caller may watch."""
    with caller.runtime.pool.connection() as conn:
        conn.execute("SELECT set_config('cityhub.department', %s, true)", (caller.department,))
        rows = conn.execute(sql.SQL("SELECT id FROM cameras WHERE {}").format(
            caller.visibility.sql("video", CAMERA_COLS))).fetchall()
    return {r[0] for r in rows}


async def _ask_relays(caller: Caller, path: str) -> list[tuple[str, Any]]:
    """``GET path`` from every relay as the hub's service: (node, JSON) of those that
    answered (a node that did not is left out); 502 when none did."""
    async def one(client: httpx.AsyncClient, base: str) -> Any:
        try:
            r = await client.get(f"{base}{path}")
            r.raise_for_status()
            return r.json()
        except (httpx.HTTPError, ValueError):
            return None

    nodes = _relay_nodes(caller)
    service = relay_service_headers(caller.runtime.config, caller.runtime.play_secret)
    async with async_client(timeout=TIMEOUT, headers=service) as client:
        answers = await asyncio.gather(*(one(client, b) for b in nodes))
    if all(a is None for a in answers):
        raise HTTPException(502, "relay unreachable")
    return [(urlsplit(n).netloc, a) for n, a in zip(nodes, answers, strict=True) if a is not None]


def _no_credentials(text: Any) -> Any:
    """An upstream error could quote a URL: never show credentials."""
    return re.sub(r"//[^/@\s]+@", "//***@", text) if isinstance(text, str) else text


@router.get("/ui/relay/health")
async def relay_health(caller: Caller = require(hold_db=False)) -> list[dict[str, Any]]:
    """The relay's per-camera health, for the cameras the caller may watch only."""
    visible = _visible_cameras(caller)
    answers = await _ask_relays(caller, "/health")
    cams = [c for _, answer in answers for c in answer.get("cameras", [])]
    out = [c for c in cams if c.get("camera_id") in visible]
    for c in out:
        c["error"] = _no_credentials(c.get("error"))
    return out


@router.get("/ui/relay/recordings")
async def recording_state(caller: Caller = require(hold_db=False)) -> dict[str, Any]:
    """Recording state of the caller's recorded cameras, and disk use per storage path of
    every relay (``node``: which relay), for the health page."""
    visible = _visible_cameras(caller)
    answers = await _ask_relays(caller, "/recordings")
    cameras: dict[str, Any] = {}
    storage: list[dict[str, Any]] = []
    for node, answer in answers:
        for cid, state in (answer.get("cameras") or {}).items():
            if cid in visible:
                cameras[cid] = {**state, "last_error": _no_credentials(state.get("last_error"))}
        storage += [{**path, "node": node} for path in answer.get("storage") or []]
    return {"cameras": cameras, "storage": storage}


@router.get("/ui/config.json")
def ui_config(ctx: Anonymous = public("map settings only; no data", db=False)) -> dict[str, Any]:
    ui = ctx.runtime.config.ui
    base = ui.basemap
    basemap = None if base.kind == "none" else {
        "url": "/api/v1/map/tiles/{z}/{x}/{y}", "attribution": base.attribution,
        "min_zoom": base.min_zoom, "max_zoom": base.max_zoom}
    return {"basemap": basemap, "wall_max_tiles": ui.wall_max_tiles,
            "video_transport": ui.video_transport, "time_zone": ui.time_zone,
            "default_language": ui.default_language}


@router.get("/ui/i18n.json")
def ui_strings(ctx: Anonymous = public("the UI's translations; no data", db=False)) -> Response:
    """Every area's catalogue (static/i18n/<area>.json) merged: {"en": {...}, "zh-CN": {...}}."""
    return Response(catalogue_json(), media_type="application/json",
                    headers={"Cache-Control": "no-cache"})


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
