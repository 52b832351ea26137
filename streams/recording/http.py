"""The relay's recording API: recorded ranges and gaps, holds, event recordings, state.

Reading footage needs a play token allowing ``playback`` (the hub issues one only to a
department holding a ``playback`` grant); holding footage and recording an event need
``clip``. Recording state and disk use (``GET /recordings``) are open like ``/health``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import BaseModel, Field

from streams.auth.service import service_only
from streams.auth.tokens import PlayGrant, PlayTokenError
from streams.auth.views import until_access_ends
from streams.playback.export import ExportError, manifest_for, write_range
from streams.playback.session import PlaybackSession
from streams.recorder.clips import ClipError, record_clip
from streams.recording.recorder import CameraRecorder, segment_name
from streams.recording.service import RecordingService
from streams.relay import Relay

log = logging.getLogger(__name__)


class HoldRequest(BaseModel):
    start: float = Field(description="From (unix seconds).")
    end: float = Field(description="To (unix seconds).")
    held: bool = Field(True, description="True: never deleted by retention; False: release.")
    reason: str = Field("", max_length=500, description="Why (case number, request).")


class ExportRequest(BaseModel):
    start: float = Field(description="From (unix seconds).")
    end: float = Field(description="To (unix seconds).")


class EventRequest(BaseModel):
    pre_s: float | None = Field(None, ge=0, le=120, description="Default: the camera's policy.")
    post_s: float | None = Field(None, gt=0, le=600, description="Default: the camera's policy.")
    event_id: str = Field("", max_length=200, description="The event this recording is for.")


def bearer(request: Request, token: str | None) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else token


async def authorized(
    relay: Relay, camera_id: str, token: str | None, protocol: str
) -> PlayGrant | None:
    try:
        return await relay.admit(camera_id, token, protocol)
    except PlayTokenError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc


def recorder_for(relay: Relay, camera_id: str) -> CameraRecorder:
    rec = relay.recording.recorders.get(camera_id)
    if rec is None:
        raise HTTPException(404, f"camera {camera_id!r} is not recorded on this relay")
    return rec


def ranges(rec: CameraRecorder, start: float, end: float, gap_s: float = 0.5) -> dict[str, Any]:
    """Segments overlapping [start, end] and the gaps between them."""
    segs = rec.journal.overlapping(start, end)
    gaps = [
        {"start": a.end, "end": b.start}
        for a, b in zip(segs, segs[1:], strict=False)
        if b.start - a.end > gap_s
    ]
    return {"segments": [s.describe() for s in segs], "gaps": gaps}


def router(relay: Relay) -> APIRouter:
    api = APIRouter()
    _viewing_routes(api, relay)
    _export_routes(api, relay)
    _marking_routes(api, relay)
    return api


def _viewing_routes(api: APIRouter, relay: Relay) -> None:
    """The recorder's state, a camera's footage and gaps, and playback over WebSocket."""

    @api.get("/recordings", dependencies=[Depends(service_only(relay.service_tokens))])
    async def state() -> dict[str, object]:
        return relay.recording.health()

    @api.get("/recordings/{camera_id}/segments")
    async def segments(
        camera_id: str,
        request: Request,
        start: float = 0.0,
        end: float | None = None,
        token: str | None = None,
    ) -> dict[str, object]:
        await authorized(relay, camera_id, bearer(request, token), "playback")
        rec = recorder_for(relay, camera_id)
        return {"camera": camera_id, **ranges(rec, start, end or time.time() + 3600)}

    @api.websocket("/playback/{camera_id}")
    async def playback(ws: WebSocket, camera_id: str, token: str | None = None) -> None:
        """Recorded fMP4 over WebSocket (streams/playback/session.py)."""
        await ws.accept()
        rec = relay.recording.recorders.get(camera_id)
        if rec is None:
            return await ws.close(4404, f"camera {camera_id!r} is not recorded here")
        try:
            grant = await relay.admit(camera_id, token, "playback")
        except PlayTokenError as exc:
            return await ws.close(4401, str(exc)[:120])
        who = grant.subject if grant else "-"
        log.info("playback %s by %s (session %s)", camera_id, who,
                 grant.token_id[:8] if grant else "-")
        codec = rec.stream.codec or rec.stream.upstream_codec or "h264"
        session = PlaybackSession(rec.journal, ws, codec, grant.window if grant else None)
        await until_access_ends(relay.guard, grant, ws, session.run())


def _export_routes(api: APIRouter, relay: Relay) -> None:
    """Evidence exports: an MP4 with a signed manifest, its segments held."""

    @api.post("/recordings/{camera_id}/exports", status_code=201)
    async def export(
        camera_id: str, body: ExportRequest, request: Request, token: str | None = None
    ) -> dict[str, object]:
        """Cut [start, end] into an MP4 and a signed manifest; the segments become held."""
        grant = await authorized(relay, camera_id, bearer(request, token), "playback")
        rec = recorder_for(relay, camera_id)
        if (
            grant
            and grant.window
            and not (grant.window[0] <= body.start and body.end <= grant.window[1])
        ):
            raise HTTPException(403, "outside the time window this token may play back")
        folder = relay.recording.layout.paths[0] / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        export_id = uuid.uuid4().hex
        mp4 = folder / f"{camera_id}-{export_id}.mp4"
        codec = rec.stream.codec or "h264"
        try:
            frames = await asyncio.to_thread(
                write_range, rec.journal, body.start, body.end, codec, mp4
            )
        except ExportError as exc:
            raise HTTPException(404, str(exc)) from exc
        who = grant.subject if grant else "-"
        manifest = manifest_for(rec.journal, body.start, body.end, mp4, relay.play_secret, who)
        (folder / f"{camera_id}-{export_id}.json").write_text(json.dumps(manifest, indent=2))
        for seg in manifest["segments"]:
            rec.journal.append("hold", seq=seg["seq"], held=True, reason=f"export {export_id}")
        log.info("export %s %s..%s by %s: %s", camera_id, body.start, body.end, who, export_id)
        base = f"/recordings/{camera_id}/exports/{export_id}"
        return {"id": export_id, "frames": frames, "mp4": f"{base}.mp4", "manifest": manifest}

    @api.get("/recordings/{camera_id}/exports/{export_id}.{kind}")
    async def export_file(
        camera_id: str, export_id: str, kind: str, request: Request, token: str | None = None
    ) -> FileResponse:
        """The exported MP4 (byte ranges served) or its manifest."""
        await authorized(relay, camera_id, bearer(request, token), "playback")
        if kind not in ("mp4", "json") or not export_id.isalnum():
            raise HTTPException(404, "no such export")
        path = relay.recording.layout.paths[0] / "exports" / f"{camera_id}-{export_id}.{kind}"
        if not path.is_file():
            raise HTTPException(404, "no such export")
        media = "video/mp4" if kind == "mp4" else "application/json"
        return FileResponse(path, media_type=media)


def _marking_routes(api: APIRouter, relay: Relay) -> None:
    """Holding footage from retention, and event segments cut around now."""

    @api.post("/recordings/{camera_id}/hold")
    async def hold(
        camera_id: str, body: HoldRequest, request: Request, token: str | None = None
    ) -> dict[str, object]:
        grant = await authorized(relay, camera_id, bearer(request, token), "clip")
        rec = recorder_for(relay, camera_id)
        changed = []
        if body.end > time.time():  # reaches into the future: footage still to come is held
            rec.journal.append(
                "hold_range", start=body.start, end=body.end, held=body.held, reason=body.reason
            )
        for seg in rec.journal.overlapping(body.start, body.end):
            if seg.held != body.held:
                rec.journal.append(
                    "hold",
                    seq=seg.seq,
                    held=body.held,
                    reason=body.reason,
                    by=grant.subject if grant else "",
                )
                changed.append(seg.seq)
        return {"camera": camera_id, "held": body.held, "segments": changed}

    @api.post("/recordings/{camera_id}/events", status_code=201)
    async def event(
        camera_id: str, body: EventRequest, request: Request, token: str | None = None
    ) -> dict[str, object]:
        await authorized(relay, camera_id, bearer(request, token), "clip")
        rec = recorder_for(relay, camera_id)
        pre = rec.policy.pre_s if body.pre_s is None else body.pre_s
        post = rec.policy.post_s if body.post_s is None else body.post_s
        scratch = relay.recording.storage.pick() / camera_id / ".events"
        try:
            clip = await record_clip(rec.stream, scratch, pre, post)
        except ClipError as exc:
            raise HTTPException(503, str(exc)) from exc
        end = time.time()
        start = end - clip.duration_s
        day = time.strftime("%Y%m%d", time.gmtime(start))
        final = scratch.parent / day / segment_name(camera_id, start)
        final.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(clip.path, final)
        seg = rec.add_event_segment(Path(final), start, end)
        return {"camera": camera_id, "event_id": body.event_id, **seg.describe()}


class RecordingCollector:
    """Prometheus: bytes written, segments, disk free, deletions, recording state."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    def collect(self):
        service = self.relay.recording
        written = CounterMetricFamily(
            "cityhub_recording_bytes", "Bytes of segments written", labels=["camera"]
        )
        segments = CounterMetricFamily(
            "cityhub_recording_segments", "Segments closed and indexed", labels=["camera"]
        )
        active = GaugeMetricFamily(
            "cityhub_recording_active", "1 while the camera is being recorded", labels=["camera"]
        )
        wanted = GaugeMetricFamily(
            "cityhub_recording_wanted",
            "1 while the camera's policy wants it recorded (continuous, inside its schedule)",
            labels=["camera"],
        )
        now = datetime.now(service.zone)
        for cid, rec in service.recorders.items():
            written.add_metric([cid], rec.stats.bytes_written)
            segments.add_metric([cid], rec.stats.segments)
            active.add_metric([cid], 1.0 if rec.recording else 0.0)
            wanted.add_metric([cid], 1.0 if rec.wants(now) else 0.0)
        yield from (written, segments, active, wanted)
        yield from self._storage(service)

    @staticmethod
    def _storage(service: RecordingService):
        free = GaugeMetricFamily(
            "cityhub_recording_disk_free_bytes", "Free bytes per storage path", labels=["path"]
        )
        size = GaugeMetricFamily(
            "cityhub_recording_disk_size_bytes", "Size of each storage path's disk", labels=["path"]
        )
        usable = GaugeMetricFamily(
            "cityhub_recording_path_usable",
            "1 while the storage path is mounted and writable (its marker file is there)",
            labels=["path"],
        )
        for row in service.storage.describe({}):
            path = row["path"]
            free.add_metric([path], float(row["free_bytes"]))
            size.add_metric([path], float(row["total_bytes"]))
            usable.add_metric([path], 1.0 if row["usable"] else 0.0)
        deleted = CounterMetricFamily(
            "cityhub_recording_deleted_segments", "Segments deleted by retention or for space"
        )
        deleted.add_metric([], service.deleted)
        alarms = CounterMetricFamily(
            "cityhub_recording_alarms",
            "Recording alarms: recording_failed, recording_stopped, disk_near_full, "
            "storage_unavailable, archive_failed",
            labels=["kind"],
        )
        for kind, n in sorted(service.alarms.items()):
            alarms.add_metric([kind], n)
        yield from (free, size, usable, deleted, alarms)
