"""FastAPI app of the relay.

Every play request carries a play token (streams/auth/tokens.py), as
``Authorization: Bearer <token>`` (what WHEP players send) or ``?token=``.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from pydantic import BaseModel, Field

from streams.auth.service import service_only
from streams.auth.tokens import PlayGrant, PlayTokenError
from streams.auth.views import until_access_ends
from streams.core.stream import CameraStream
from streams.fmp4.websocket import Fmp4Viewer
from streams.gb28181.push import PushError
from streams.http.clip_table import ClipTable
from streams.recorder.clips import ClipError, record_clip
from streams.recorder.snapshot import SnapshotError, jpeg_from_gop
from streams.recording import http as recording_http
from streams.relay import Relay
from streams.webrtc.whep import WhepError

MAX_OFFER_BYTES = 64 * 1024
#: Which of a camera's streams: main, or sub (smaller, for grids; main where there is none).
Profile = Literal["main", "sub"]


class PushRequest(BaseModel):
    host: str = Field(min_length=1, max_length=64, description="Receiver's RTP address.")
    port: int = Field(ge=1, le=65535, description="Receiver's RTP port.")
    transport: Literal["udp", "tcp-connect", "tcp-listen"] = Field(
        "udp", description="UDP; TCP connecting to the receiver; TCP listening for it.")
    ssrc: int = Field(0, ge=0, le=0xFFFFFFFF, description="RTP SSRC (the SDP's y= value).")


class ClipRequest(BaseModel):
    pre_s: float = Field(5.0, ge=0, le=120, description="Seconds before the event (as buffered).")
    post_s: float = Field(5.0, ge=0.1, le=600, description="Seconds after the event.")


def _token(request: Request, token: str | None) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return token


def create_app(relay: Relay) -> FastAPI:
    app = FastAPI(title="cityhub relay", docs_url=None, redoc_url=None)
    clips = ClipTable()
    registry = CollectorRegistry()
    registry.register(_HealthCollector(relay))
    registry.register(recording_http.RecordingCollector(relay))
    app.include_router(recording_http.router(relay))

    async def stream_for(
        camera_id: str, request: Request, token: str | None, protocol: str,
        profile: Profile = "main",
    ) -> tuple[CameraStream, PlayGrant | None]:
        stream = relay.stream(camera_id, profile)
        if stream is None:
            raise HTTPException(404, f"no camera {camera_id!r}")
        try:
            grant = await relay.admit(camera_id, _token(request, token), protocol)
        except PlayTokenError as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
        return stream, grant

    @app.post("/whep/{camera_id}", status_code=201)
    @app.post("/{camera_id}/whep", status_code=201)  # MediaMTX-style, as the hub's play URLs
    async def whep_offer(camera_id: str, request: Request, token: str | None = None,
                         profile: Profile = "main") -> Response:
        stream, grant = await stream_for(camera_id, request, token, "webrtc", profile)
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
        location = f"/whep/{camera_id}/{session.id}"
        return Response(
            session.pc.localDescription.sdp,
            status_code=201,
            media_type="application/sdp",
            headers={"Location": location, "ETag": f'"{session.id}"'},
        )

    @app.delete("/whep/{camera_id}/{session_id}")
    async def whep_delete(camera_id: str, session_id: str) -> Response:
        # The session id (unguessable, handed out with the answer) is the capability.
        session = relay.whep.sessions.get(session_id)
        if session is None or session.camera_id != camera_id:
            raise HTTPException(404, "no such WHEP session")
        await relay.whep.delete(session_id)
        return Response(status_code=200)

    @app.patch("/whep/{camera_id}/{session_id}")
    async def whep_patch(camera_id: str, session_id: str) -> Response:
        return Response(
            "trickle ICE not supported: the answer carries all candidates",
            status_code=405,
            headers={"Allow": "DELETE"},
        )

    @app.websocket("/fmp4/{camera_id}")
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

    @app.get("/snapshot/{camera_id}.jpg")
    async def snapshot(
        camera_id: str,
        request: Request,
        token: str | None = None,
        width: Annotated[int | None, Query(ge=16, le=7680)] = None,
    ) -> Response:
        stream, _ = await stream_for(camera_id, request, token, "snapshot")
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

    @app.post("/clips/{camera_id}", status_code=201)
    async def make_clip(
        camera_id: str, request: Request, body: ClipRequest, token: str | None = None
    ) -> dict[str, object]:
        stream, _ = await stream_for(camera_id, request, token, "clip")
        post = min(body.post_s, relay.settings.clip_post_s_max)
        try:
            clip = await record_clip(stream, relay.clips_dir, body.pre_s, post)
        except ClipError as exc:
            raise HTTPException(503, str(exc)) from exc
        clips.add(clip)
        return {**clip.describe(), "url": f"/clips/{camera_id}/{clip.id}.mp4"}

    @app.get("/clips/{camera_id}/{clip_id}.mp4")
    async def get_clip(
        camera_id: str, clip_id: str, request: Request, token: str | None = None
    ) -> Response:
        await stream_for(camera_id, request, token, "clip")
        clip = clips.get(clip_id)
        if clip is None or clip.camera_id != camera_id:
            raise HTTPException(404, "no such clip")
        return FileResponse(
            clip.path, media_type="video/mp4", headers={"X-Content-SHA256": clip.sha256}
        )

    @app.get("/sessions/{session_id}")
    async def view_state(session_id: str) -> dict[str, object]:
        """Why a view ended, for its player (the session id, from the play token, is the
        capability); ``ended`` is null while nothing ended it."""
        return {"session": session_id, "ended": relay.guard.why(session_id)}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness (deploy/README.md): the event loop answers; no dependency is checked."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        """Readiness: RTSP re-serve listening. Dead cameras do not make the relay unready."""
        ready = relay.rtsp_port is not None
        body = {
            "status": "ready" if ready else "unavailable",
            "checks": {"rtsp": "up" if ready else "down"},
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    # Health and metrics name every camera: the service credential only.
    service = Depends(service_only(relay.service_tokens))

    @app.get("/health", dependencies=[service])
    async def health() -> dict[str, object]:
        return {"rtsp_port": relay.rtsp_port, "cameras": relay.health()}

    @app.get("/health/{camera_id}", dependencies=[service])
    async def health_one(camera_id: str) -> dict[str, object]:
        for h in relay.health():
            if h["camera_id"] == camera_id:
                return h
        raise HTTPException(404, f"no camera {camera_id!r}")

    @app.post("/gb28181/push/{camera_id}", dependencies=[service], status_code=201)
    async def push_start(camera_id: str, body: PushRequest) -> dict[str, object]:
        """Send the camera as PS over RTP to an address (GB/T 28181 cascade; the SIP side,
        with its shares and audit, is the hub's ``cityhub sip``)."""
        stream = relay.streams.get(camera_id)
        if stream is None:
            raise HTTPException(404, f"no camera {camera_id!r}")
        try:
            push = await relay.pushes.start(stream, body.host, body.port, body.transport,
                                            body.ssrc)
        except PushError as exc:
            raise HTTPException(503, str(exc)) from exc
        return push.describe()

    @app.delete("/gb28181/push/{push_id}", dependencies=[service])
    async def push_stop(push_id: str) -> dict[str, object]:
        return {"ended": await relay.pushes.stop(push_id, relay.streams)}

    @app.get("/gb28181/push", dependencies=[service])
    async def push_list() -> list[dict[str, object]]:
        return [p.describe() for p in relay.pushes.pushes.values()]

    @app.get("/metrics", dependencies=[service])
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/player", response_class=HTMLResponse)
    async def player() -> str:
        return resources.files("streams.web").joinpath("player.html").read_text(encoding="utf-8")

    @app.get("/{module}.js", response_class=PlainTextResponse)
    async def web_module(module: Literal["whep", "mse", "playback"]) -> Response:
        """The player's ES modules (streams/web): whep.js imports mse.js for the fallback."""
        text = resources.files("streams.web").joinpath(f"{module}.js").read_text(encoding="utf-8")
        return Response(text, media_type="text/javascript")

    return app


class _HealthCollector:
    """Prometheus view of the relay's health, read at scrape time."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    def collect(self):
        specs = {
            "fps": ("cityhub_stream_fps", "Frames per second from the camera"),
            "bitrate_bps": ("cityhub_stream_bitrate_bps", "Bits per second from the camera"),
            "viewers": (
                "cityhub_stream_consumers",
                "Python fan-out consumers (WebRTC, fMP4, clip recordings)",
            ),
            "rtsp_viewers": ("cityhub_stream_rtsp_viewers", "RTSP reader sessions"),
            "webrtc_viewers": ("cityhub_stream_webrtc_viewers", "WebRTC sessions"),
            "fmp4_viewers": ("cityhub_stream_fmp4_viewers", "fMP4-over-WebSocket viewers"),
            "upstream_connects": (
                "cityhub_stream_upstream_connects",
                "Upstream connection attempts",
            ),
        }
        health = self.relay.health()
        for key, (name, doc) in specs.items():
            family = GaugeMetricFamily(name, doc, labels=["camera"])
            for h in health:
                family.add_metric([str(h["camera_id"])], float(h[key] or 0))
            yield family
        up = GaugeMetricFamily(
            "cityhub_stream_live", "1 if the camera is live", labels=["camera", "state"]
        )
        for h in health:
            up.add_metric(
                [str(h["camera_id"]), str(h["state"])], 1.0 if h["state"] == "live" else 0.0
            )
        yield up
