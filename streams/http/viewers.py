"""The relay's viewer routes: WHEP (WebRTC), fMP4 over WebSocket, snapshots and event clips.

Every request carries a play token (streams/auth/tokens.py), as ``Authorization: Bearer
<token>`` (what WHEP players send) or ``?token=``; the relay then asks the hub whether the
view may start (streams/auth/guard.py) and ends it when access ends. ``?profile=sub`` picks
a camera's sub stream where it has one, ``?profile=h264`` its H.264 transcode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, WebSocket
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from core.http import EVENT_STREAM_HEADERS
from streams.auth.tokens import PlayGrant, PlayTokenError
from streams.auth.views import until_access_ends
from streams.core.stream import CameraStream
from streams.fmp4.websocket import Fmp4Viewer
from streams.gb28181.device_playback import channel_of
from streams.gb28181.device_ws import DeviceWsPlayback
from streams.http.clip_table import ClipTable
from streams.recorder.clips import ClipError, record_clip
from streams.recorder.snapshot import SnapshotError, jpeg_from_gop
from streams.relay import Relay
from streams.webrtc.whep import WhepError, WhepSession

log = logging.getLogger(__name__)
MAX_OFFER_BYTES = 64 * 1024
#: A comment this often keeps a WHEP session's event stream (and proxies on its way) open.
KEEPALIVE_S = 15.0
#: Which of a camera's streams: main, or sub (smaller, for grids; main where there is none),
#: or h264: the main transcoded to H.264 on demand (streams/core/transcode.py) for browsers
#: that cannot decode the camera's H.265 (the main where it is H.264).
Profile = Literal["main", "sub", "h264"]


class ClipRequest(BaseModel):
    pre_s: float = Field(5.0, ge=0, le=120, description="Seconds before the event (as buffered).")
    post_s: float = Field(5.0, ge=0.1, le=600, description="Seconds after the event.")


def _token(request: Request, token: str | None) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return token


async def _stream_for(
    relay: Relay, camera_id: str, request: Request, token: str | None, protocol: str,
    profile: Profile = "main",
) -> tuple[CameraStream, PlayGrant | None]:
    """The camera's stream and the viewer's grant: 404 for an unknown camera, 401 when the
    play token does not admit this protocol."""
    stream = relay.stream(camera_id, profile)
    if stream is None:
        raise HTTPException(404, f"no camera {camera_id!r}")
    try:
        grant = await relay.admit(camera_id, _token(request, token), protocol)
    except PlayTokenError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
    return stream, grant


def router(relay: Relay) -> APIRouter:
    api = APIRouter()
    _whep_routes(api, relay)
    _fmp4_route(api, relay)
    _device_playback_route(api, relay)
    _snapshot_route(api, relay)
    _clip_routes(api, relay, ClipTable())
    _session_route(api, relay)
    return api


def _whep_routes(api: APIRouter, relay: Relay) -> None:
    """WebRTC viewers by WHEP: offer, hang up (no trickle ICE)."""

    @api.post("/whep/{camera_id}", status_code=201)
    @api.post("/{camera_id}/whep", status_code=201)  # MediaMTX-style, as the hub's play URLs
    async def whep_offer(camera_id: str, request: Request, token: str | None = None,
                         profile: Profile = "main") -> Response:
        t0 = time.monotonic()
        stream, grant = await _stream_for(relay, camera_id, request, token, "webrtc", profile)
        admitted = time.monotonic() - t0
        ctype = request.headers.get("content-type", "").split(";")[0].strip()
        if ctype != "application/sdp":
            raise HTTPException(415, "WHEP offers must be Content-Type: application/sdp")
        body = await request.body()
        if len(body) > MAX_OFFER_BYTES:
            raise HTTPException(413, "SDP offer too large")
        try:
            offer = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HTTPException(400, "SDP offer is not UTF-8 text") from exc
        try:
            session = await relay.whep.create(stream, offer)
        except WhepError as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        def end(_why: str) -> None:  # its player asks GET /sessions/{id} why
            asyncio.ensure_future(relay.whep.delete(session.id))

        session.on_close(relay.guard.watch(grant, end))
        # How long a tile waited, and on what: the hub's word on access, or the camera and
        # the WebRTC negotiation.
        log.info("whep %s: session %s started in %.2f s (access %.2f s)", camera_id,
                 session.id[:8], time.monotonic() - t0, admitted)
        location = f"/whep/{camera_id}/{session.id}"
        return Response(
            session.pc.localDescription.sdp,
            status_code=201,
            media_type="application/sdp",
            headers={"Location": location, "ETag": f'"{session.id}"'},
        )

    @api.delete("/whep/{camera_id}/{session_id}")
    async def whep_delete(camera_id: str, session_id: str) -> Response:
        # The session id (unguessable, handed out with the answer) is the capability.
        session = relay.whep.sessions.get(session_id)
        if session is None or session.camera_id != camera_id:
            raise HTTPException(404, "no such WHEP session")
        await relay.whep.delete(session_id)
        return Response(status_code=200)

    @api.get("/whep/{camera_id}/{session_id}/events")
    async def whep_events(camera_id: str, session_id: str) -> StreamingResponse:
        """The session's event stream (``text/event-stream``): ``open``, a comment every
        KEEPALIVE_S, and ``closed`` once the relay ended the session. Media goes straight
        to the browser over UDP, so a relay that died is only seen when its frames stop;
        this stream, through the hub's gateway, breaks at once instead (hub/ui/router.py)."""
        session = relay.whep.sessions.get(session_id)
        if session is None or session.camera_id != camera_id:
            raise HTTPException(404, "no such WHEP session")
        return StreamingResponse(_session_events(session), media_type="text/event-stream",
                                 headers=EVENT_STREAM_HEADERS)

    @api.patch("/whep/{camera_id}/{session_id}")
    async def whep_patch(camera_id: str, session_id: str) -> Response:
        return Response(
            "trickle ICE not supported: the answer carries all candidates",
            status_code=405,
            headers={"Allow": "DELETE"},
        )


async def _session_events(session: WhepSession) -> AsyncIterator[str]:
    yield "event: open\ndata: {}\n\n"
    while not session.closed.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.closed.wait(), KEEPALIVE_S)
        if not session.closed.is_set():
            yield ": keepalive\n\n"
    yield "event: closed\ndata: {}\n\n"


def _fmp4_route(api: APIRouter, relay: Relay) -> None:
    @api.websocket("/fmp4/{camera_id}")
    async def fmp4(ws: WebSocket, camera_id: str, token: str | None = None,
                   profile: Profile = "main") -> None:
        """fMP4 over WebSocket (streams/fmp4): MSE playback where WebRTC cannot pass."""
        await ws.accept()  # then refuse with a reason the browser can read (close code 4xxx)
        stream = relay.stream(camera_id, profile)
        if stream is None:
            return await ws.close(4404, f"no camera {camera_id!r}")
        try:
            grant = await relay.admit(camera_id, token, "fmp4")
        except PlayTokenError as exc:
            return await ws.close(4401, str(exc)[:120])
        if sum(relay.fmp4_viewers.values()) >= relay.settings.fmp4_max_viewers:
            return await ws.close(4503, "too many fMP4 viewers on this relay")
        counted = stream.camera_id
        relay.fmp4_viewers[counted] = relay.fmp4_viewers.get(counted, 0) + 1
        try:
            viewer = Fmp4Viewer(stream, ws, relay.settings.connect_timeout_s).run()
            await until_access_ends(relay.guard, grant, ws, viewer)
        finally:
            relay.fmp4_viewers[counted] -= 1


def _device_playback_route(api: APIRouter, relay: Relay) -> None:
    @api.websocket("/playback/{camera_id}/device")
    async def device_playback(ws: WebSocket, camera_id: str, token: str | None = None,
                              start: float = 0.0, end: float = 0.0) -> None:
        """A GB/T 28181 channel's recording on its device, fMP4 over WebSocket, steered
        as the relay's own playback (streams/gb28181/device_ws.py)."""
        await ws.accept()
        spec = relay.specs.get(camera_id)
        channel = channel_of(spec.url) if spec is not None else None
        if channel is None:
            return await ws.close(4404, f"camera {camera_id!r} is not a GB/T 28181 channel here")
        try:
            checked = relay.authorize(camera_id, token, "playback")  # before the hub is asked
            allowed = checked.window if checked is not None else None
            if not 0 < start < end or (allowed and not allowed[0] <= start < end <= allowed[1]):
                return await ws.close(4403, "start < end within the token's playback window")
            grant = await relay.admit(camera_id, token, "playback")
        except PlayTokenError as exc:
            return await ws.close(4401, str(exc)[:120])
        cap = relay.settings.recording.device_playback_max
        if relay.device_playbacks >= cap:  # a device's NVR serves few calls: refuse, not queue
            return await ws.close(4503, f"too many device playbacks on this relay (max {cap})")
        relay.device_playbacks += 1
        try:
            session = DeviceWsPlayback(channel, ws, (start, end))
            await until_access_ends(relay.guard, grant, ws, session.run())
        finally:
            relay.device_playbacks -= 1


def _snapshot_route(api: APIRouter, relay: Relay) -> None:
    @api.get("/snapshot/{camera_id}.jpg")
    async def snapshot(
        camera_id: str,
        request: Request,
        token: str | None = None,
        width: Annotated[int | None, Query(ge=16, le=7680)] = None,
    ) -> Response:
        stream, _ = await _stream_for(relay, camera_id, request, token, "snapshot")
        lease = stream.acquire("snapshot")
        try:
            if not await stream.wait_live(relay.settings.connect_timeout_s):
                raise HTTPException(503, f"camera not available: {stream.last_error or 'no video'}")
            gop = stream.fanout.gop()
            deadline = asyncio.get_running_loop().time() + 1.0
            while len(gop) < 3 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)  # just connected: a lone keyframe may not decode yet
                gop = stream.fanout.gop()
        finally:
            lease.release()
        try:
            jpeg = await asyncio.get_running_loop().run_in_executor(
                None, jpeg_from_gop, gop, 85, width
            )
        except SnapshotError as exc:
            raise HTTPException(503, str(exc)) from exc
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


def _clip_routes(api: APIRouter, relay: Relay, clips: ClipTable) -> None:
    """Clips cut around now; the table is bounded (``clip_table.py``)."""

    @api.post("/clips/{camera_id}", status_code=201)
    async def make_clip(
        camera_id: str, request: Request, body: ClipRequest, token: str | None = None
    ) -> dict[str, object]:
        stream, _ = await _stream_for(relay, camera_id, request, token, "clip")
        post = min(body.post_s, relay.settings.clip_post_s_max)
        try:
            clip = await record_clip(stream, relay.clips_dir, body.pre_s, post)
        except ClipError as exc:
            raise HTTPException(503, str(exc)) from exc
        clips.add(clip)
        return {**clip.describe(), "url": f"/clips/{camera_id}/{clip.id}.mp4"}

    @api.get("/clips/{camera_id}/{clip_id}.mp4")
    async def get_clip(
        camera_id: str, clip_id: str, request: Request, token: str | None = None
    ) -> Response:
        await _stream_for(relay, camera_id, request, token, "clip")
        clip = clips.get(clip_id)
        if clip is None or clip.camera_id != camera_id:
            raise HTTPException(404, "no such clip")
        return FileResponse(
            clip.path, media_type="video/mp4", headers={"X-Content-SHA256": clip.sha256}
        )


def _session_route(api: APIRouter, relay: Relay) -> None:
    @api.get("/sessions/{session_id}")
    async def view_state(session_id: str) -> dict[str, object]:
        """Why a view ended, for its player (the session id, from the play token, is the
        capability); ``ended`` is null while nothing ended it."""
        return {"session": session_id, "ended": relay.guard.why(session_id)}
