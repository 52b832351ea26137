"""Event clips: pre-event buffer + post-event seconds -> MP4 (no re-encoding) + sha256.

The pre-event part comes from the fan-out's buffer (whole GOPs, so the clip
starts on a keyframe); the post-event part is collected live. GStreamer's
parser and mp4mux write the file; timestamps are the stream's media time, with decode
times rebuilt from the arrival order when the camera sends B-frames.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from streams.core.media import AccessUnit  # noqa: E402
from streams.core.stream import CameraStream  # noqa: E402


class ClipError(Exception):
    pass


@dataclass(frozen=True)
class Clip:
    id: str
    camera_id: str
    path: Path
    sha256: str
    size: int
    duration_s: float
    frames: int
    created_at: float

    def describe(self) -> dict[str, object]:
        return {
            "id": self.id,
            "camera_id": self.camera_id,
            "sha256": self.sha256,
            "size": self.size,
            "duration_s": round(self.duration_s, 3),
            "frames": self.frames,
            "created_at": self.created_at,
        }


def select_pre(units: list[AccessUnit], since: float) -> list[AccessUnit]:
    """Units from the last keyframe at or before ``since`` (whole GOPs) onwards."""
    start = 0
    for i, au in enumerate(units):
        if au.keyframe and au.pts <= since:
            start = i
    return units[start:]


def decode_timestamps(pts: list[float]) -> list[float]:
    """Decode times for units in decode order whose presentation times may be reordered
    (B-frames: RTP carries PTS only): the sorted PTS values taken in arrival order, shifted
    back just enough that no unit decodes after it is shown. Without B-frames, DTS = PTS."""
    dts = sorted(pts)
    shift = max((d - p for d, p in zip(dts, pts, strict=True)), default=0.0)
    return [d - shift for d in dts]


def write_mp4(units: list[AccessUnit], path: Path) -> None:
    """Mux ``units`` (starting on a keyframe) into an MP4 file; blocking."""
    if not units or not units[0].keyframe:
        raise ClipError("a clip must start on a keyframe")
    codec = units[0].codec
    pipeline = Gst.parse_launch(
        f"appsrc name=src format=time caps=video/x-{codec},stream-format=byte-stream,alignment=au "
        f"! {codec}parse ! mp4mux faststart=true ! filesink location={path}"
    )
    src = pipeline.get_by_name("src")
    pipeline.set_state(Gst.State.PLAYING)
    dts = decode_timestamps([au.pts for au in units])
    t0 = dts[0]
    for i, au in enumerate(units):
        buf = Gst.Buffer.new_wrapped(au.data)
        buf.pts = int((au.pts - t0) * Gst.SECOND)
        buf.dts = int((dts[i] - t0) * Gst.SECOND)
        nxt = dts[i + 1] if i + 1 < len(units) else dts[i] + 0.04
        buf.duration = max(1, int((nxt - dts[i]) * Gst.SECOND))
        if not au.keyframe:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        src.emit("push-buffer", buf)
    src.emit("end-of-stream")
    msg = pipeline.get_bus().timed_pop_filtered(
        30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
    )
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        path.unlink(missing_ok=True)
        raise ClipError(
            "muxing the clip failed: " + (msg.parse_error()[0].message if msg else "timeout")
        )


async def record_clip(stream: CameraStream, directory: Path, pre_s: float, post_s: float) -> Clip:
    """Cut a clip around now: ``pre_s`` before (as far as buffered) and ``post_s`` after."""
    lease = stream.acquire("clip")
    try:
        if not await stream.wait_live(10):
            raise ClipError(f"camera not available: {stream.last_error or 'no video'}")
        loop = asyncio.get_running_loop()
        post: list[AccessUnit] = []
        done = asyncio.Event()
        lock = threading.Lock()
        pre_all = stream.fanout.prebuffer()
        pre_ids = {id(au) for au in pre_all}  # same objects as the fan-out hands out
        event_time = pre_all[-1].pts if pre_all else None

        def collect(au: AccessUnit) -> None:
            nonlocal event_time
            with lock:
                if event_time is None:
                    if not au.keyframe:
                        return
                    event_time = au.pts
                if id(au) in pre_ids:
                    return  # the GOP-cache backlog repeats units the pre-buffer already has
                if done.is_set():
                    return
                post.append(au)
                if au.pts >= event_time + post_s:
                    loop.call_soon_threadsafe(done.set)

        cid = stream.fanout.subscribe(collect)
        try:
            await asyncio.wait_for(done.wait(), post_s + 15)
        except TimeoutError as exc:
            raise ClipError("the camera stopped before the post-event part was recorded") from exc
        finally:
            stream.fanout.unsubscribe(cid)
    finally:
        lease.release()
    units = (
        select_pre(pre_all, event_time - pre_s) if pre_all and event_time is not None else []
    ) + post
    if units and not units[0].keyframe:
        units = units[next((i for i, u in enumerate(units) if u.keyframe), len(units)) :]
    if not units:
        raise ClipError("no video to put in the clip")
    directory.mkdir(parents=True, exist_ok=True)
    clip_id = uuid.uuid4().hex
    path = directory / f"{stream.camera_id}-{clip_id}.mp4"
    await loop.run_in_executor(None, write_mp4, units, path)
    data = path.read_bytes()
    return Clip(
        clip_id,
        stream.camera_id,
        path,
        hashlib.sha256(data).hexdigest(),
        len(data),
        units[-1].pts - units[0].pts,
        len(units),
        time.time(),
    )
