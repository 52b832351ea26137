"""The relay's service routes: probes (public), and for the service token only health,
metrics and the GB/T 28181 push path (they name every camera)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from pydantic import BaseModel, Field

from streams.auth.service import service_only
from streams.gb28181.push import PushError
from streams.gb28181.replay import has_footage, spans
from streams.relay import Relay


class PushRequest(BaseModel):
    host: str = Field(min_length=1, max_length=64, description="Receiver's RTP address.")
    port: int = Field(ge=1, le=65535, description="Receiver's RTP port.")
    transport: Literal["udp", "tcp-connect", "tcp-listen"] = Field(
        "udp", description="UDP; TCP connecting to the receiver; TCP listening for it.")
    ssrc: int = Field(0, ge=0, le=0xFFFFFFFF, description="RTP SSRC (the SDP's y= value).")
    start: float | None = Field(
        None, ge=0, description="Recorded footage from this instant (unix s) instead of live.")
    end: float | None = Field(None, ge=0, description="End of the recorded window (unix s).")


class PushControl(BaseModel):
    method: Literal["PLAY", "PAUSE"] = Field(description="MANSRTSP method from the upper.")
    scale: float | None = Field(None, gt=0, le=64, description="Speed (PLAY).")
    npt: float | None = Field(None, ge=0, description="Seek: seconds from the window's start.")


def router(relay: Relay, registry: CollectorRegistry) -> APIRouter:
    api = APIRouter()
    _probe_routes(api, relay)
    # Health, metrics and pushes name every camera: the service credential only.
    service = Depends(service_only(relay.service_tokens))
    _health_routes(api, relay, registry, service)
    _push_routes(api, relay, service)
    return api


def _probe_routes(api: APIRouter, relay: Relay) -> None:
    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness (deploy/README.md): the event loop answers; no dependency is checked."""
        return {"status": "ok"}

    @api.get("/readyz")
    async def readyz() -> Response:
        """Readiness: RTSP re-serve listening. Dead cameras do not make the relay unready."""
        ready = relay.rtsp_port is not None
        body = {
            "status": "ready" if ready else "unavailable",
            "checks": {"rtsp": "up" if ready else "down"},
        }
        return JSONResponse(body, status_code=200 if ready else 503)


def _health_routes(api: APIRouter, relay: Relay, registry: CollectorRegistry, service: Any
                   ) -> None:
    @api.get("/health", dependencies=[service])
    async def health() -> dict[str, object]:
        return {"rtsp_port": relay.rtsp_port, "cameras": relay.health()}

    @api.get("/health/{camera_id}", dependencies=[service])
    async def health_one(camera_id: str) -> dict[str, object]:
        for h in relay.health():
            if h["camera_id"] == camera_id:
                return h
        raise HTTPException(404, f"no camera {camera_id!r}")

    @api.get("/metrics", dependencies=[service])
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _push_routes(api: APIRouter, relay: Relay, service: Any) -> None:
    """GB/T 28181 cascade: live or recorded PS over RTP to an address, and recorded spans."""

    @api.post("/gb28181/push/{camera_id}", dependencies=[service], status_code=201)
    async def push_start(camera_id: str, body: PushRequest) -> dict[str, object]:
        """Send the camera as PS over RTP to an address (GB/T 28181 cascade; the SIP side,
        with its shares and audit, is the hub's ``cityhub sip``)."""
        if body.start is not None or body.end is not None:
            return await _recorded(relay, camera_id, body)
        stream = relay.streams.get(camera_id)
        if stream is None:
            raise HTTPException(404, f"no camera {camera_id!r}")
        try:
            push = await relay.pushes.start(stream, body.host, body.port, body.transport,
                                            body.ssrc)
        except PushError as exc:
            raise HTTPException(503, str(exc)) from exc
        return push.describe()

    @api.delete("/gb28181/push/{push_id}", dependencies=[service])
    async def push_stop(push_id: str) -> dict[str, object]:
        return {"ended": await relay.pushes.stop(push_id, relay.streams)}

    @api.post("/gb28181/push/{push_id}/control", dependencies=[service])
    async def push_control(push_id: str, body: PushControl) -> dict[str, object]:
        """Pause, resume, speed or seek a recorded push (the upper's MANSRTSP)."""
        try:
            return relay.pushes.control(push_id, body.method, body.scale, body.npt).describe()
        except PushError as exc:
            raise HTTPException(409 if push_id in relay.pushes.pushes else 404,
                                str(exc)) from exc

    @api.get("/gb28181/recordings/{camera_id}", dependencies=[service])
    async def recorded_spans(camera_id: str, start: float, end: float) -> dict[str, object]:
        """Recorded time of a camera in [start, end] as spans (GB/T 28181 RecordInfo)."""
        rec = relay.recording.recorders.get(camera_id)
        if rec is None:
            raise HTTPException(404, f"camera {camera_id!r} is not recorded here")
        segments = rec.journal.overlapping(start, end)
        return {"camera": camera_id, "spans": spans(segments, start, end)}

    @api.get("/gb28181/push/{push_id}", dependencies=[service])
    async def push_one(push_id: str) -> dict[str, object]:
        push = relay.pushes.pushes.get(push_id)
        if push is None:
            raise HTTPException(404, f"no push {push_id!r}")
        return push.describe()

    @api.get("/gb28181/push", dependencies=[service])
    async def push_list() -> list[dict[str, object]]:
        return [p.describe() for p in relay.pushes.pushes.values()]


async def _recorded(relay: Relay, camera_id: str, body: PushRequest) -> dict[str, object]:
    """A window of the camera's recording as PS over RTP (GB/T 28181 Playback)."""
    rec = relay.recording.recorders.get(camera_id)
    if rec is None:
        raise HTTPException(404, f"camera {camera_id!r} is not recorded here")
    if body.start is None or body.end is None or not body.start < body.end:
        raise HTTPException(422, "a recorded push needs start < end")
    segments = rec.journal.overlapping(body.start, body.end)
    if not has_footage(segments, body.start, body.end):
        raise HTTPException(404, "no recording in that window")
    codec = rec.stream.codec or rec.stream.upstream_codec or "h264"
    try:
        push = await relay.pushes.start_recorded(
            camera_id, segments, codec, body.host, body.port, body.transport, body.ssrc,
            (body.start, body.end))
    except PushError as exc:
        raise HTTPException(503, str(exc)) from exc
    return push.describe()


class HealthCollector:
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
        transcoding = GaugeMetricFamily(
            "cityhub_stream_transcoding",
            "1 while a camera's h264 profile decodes and re-encodes it (CPU-heavy)",
            labels=["camera", "source_codec"],
        )
        for h in health:
            t = h.get("transcode")
            if isinstance(t, dict):
                transcoding.add_metric([str(h["camera_id"]), str(t["from"] or "")],
                                       1.0 if t["running"] and h["state"] == "live" else 0.0)
        yield transcoding
