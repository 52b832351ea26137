"""Loop mode of the synthetic cameras: encode a clip once, replay its access units.

Live x264 costs ~20% of a core per 720p camera; replaying a cached clip costs
next to nothing, so sixteen cameras fit on this machine. The clip is a whole
number of GOPs starting on an IDR (with SPS/PPS before every IDR), so the loop
seam is a clean keyframe. Timestamps come from the serving pipeline's clock
(appsrc do-timestamp) as each access unit is pushed at the camera's frame rate.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

if TYPE_CHECKING:
    from devkit.synthetic import CameraSpec

CLIP_SECONDS = 4.0


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cityhub" / "synthetic"


def clip_frames(spec: CameraSpec, seconds: float = CLIP_SECONDS) -> int:
    """Frames in the clip: at least ``seconds``, rounded up to whole GOPs."""
    return max(1, math.ceil(seconds * spec.fps / spec.gop)) * spec.gop


def encode_clip(spec: CameraSpec, directory: Path | None = None) -> Path:
    """The cached elementary stream for ``spec``, encoding it first if missing."""
    key = hashlib.sha256(repr((spec, CLIP_SECONDS, 2)).encode()).hexdigest()[:16]
    directory = directory or cache_dir()
    path = directory / f"{spec.name}-{spec.codec}-{key}.{spec.codec}"
    if path.exists() and path.stat().st_size > 0:
        return path
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    desc = (
        spec.raw_launch(live=False, frames=clip_frames(spec))
        + spec.encoder_launch()
        + f" ! filesink location={tmp}"
    )
    pipeline = Gst.parse_launch(desc)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        120 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
    )
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        err = msg.parse_error()[0].message if msg is not None else "timeout"
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"encoding the loop clip for {spec.name} failed: {err}")
    tmp.replace(path)  # atomic: concurrent servers never read half a file
    return path


def read_access_units(path: Path, codec: str) -> list[bytes]:
    """Split a byte-stream file into access units (h264parse/h265parse, alignment=au)."""
    pipeline = Gst.parse_launch(
        f"filesrc location={path} ! {codec}parse "
        f"! video/x-{codec},stream-format=byte-stream,alignment=au "
        "! appsink name=out sync=false"
    )
    sink = pipeline.get_by_name("out")
    pipeline.set_state(Gst.State.PLAYING)
    units: list[bytes] = []
    while True:
        sample = sink.emit("try-pull-sample", 10 * Gst.SECOND)
        if sample is None:
            break
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        if ok:
            units.append(bytes(info.data))
            buf.unmap(info)
    pipeline.set_state(Gst.State.NULL)
    if not units:
        raise RuntimeError(f"loop clip {path} holds no access units")
    return units


class LoopFeeder:
    """Pushes the clip's access units into one media's appsrc at the frame rate."""

    def __init__(self, appsrc: Gst.Element, units: list[bytes], fps: int) -> None:
        self.appsrc = appsrc
        self.units = units
        self.period = 1.0 / fps
        self.sent = 0
        self.started = time.monotonic()
        self.source_id: int | None = GLib.timeout_add(max(1, int(500 / fps)), self._tick)

    def _tick(self) -> bool:
        due = int((time.monotonic() - self.started) / self.period) + 1
        while self.sent < due:
            data = self.units[self.sent % len(self.units)]
            if self.appsrc.emit("push-buffer", Gst.Buffer.new_wrapped(data)) != Gst.FlowReturn.OK:
                self.source_id = None
                return False  # media torn down
            self.sent += 1
        return True

    def stop(self) -> None:
        if self.source_id is not None:
            GLib.source_remove(self.source_id)
            self.source_id = None
