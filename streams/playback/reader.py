"""Read recorded segments back as access units stamped with wall-clock time.

One small GStreamer pipeline per segment file (``filesrc ! qtdemux ! parse ! appsink``,
no decoding), started at the keyframe at or before the wanted instant. Segment files
carry their own timeline (splitmuxsink keeps the running time), so a unit's wall time
is the segment's journaled start plus its offset from the file's first unit.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import Gst, GstApp  # noqa: E402, F401

from streams.core.media import AccessUnit  # noqa: E402
from streams.recording.journal import Segment  # noqa: E402

log = logging.getLogger(__name__)


class ReadError(Exception):
    pass


def is_random_access(data: bytes, codec: str) -> bool:
    """True when an Annex-B access unit holds an IDR (H.264) or IRAP (H.265) picture.

    qtdemux flags the first sample of every fMP4 fragment as a keyframe; the NAL
    types say what the picture really is."""
    pos = data.find(b"\x00\x00\x01")
    while pos >= 0 and pos + 3 < len(data):
        header = data[pos + 3]
        if codec == "h264" and header & 0x1F == 5:
            return True
        if codec == "h265" and 16 <= (header >> 1) & 0x3F <= 21:
            return True
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return False


def _pipeline(path: Path, codec: str) -> tuple[Gst.Pipeline, Gst.Element]:
    pipeline = Gst.parse_launch(
        f"filesrc name=src ! qtdemux ! {codec}parse config-interval=-1 "
        f"! video/x-{codec},stream-format=byte-stream,alignment=au "
        "! appsink name=out sync=false max-buffers=8"
    )
    pipeline.get_by_name("src").set_property("location", str(path))
    return pipeline, pipeline.get_by_name("out")


#: How far before the wanted instant reading starts, to find the keyframe before it
#: (fragmented files seek by fragment, not always onto a keyframe).
LOOKBACK_S = 3.0


def timed(buf: Gst.Buffer, last: int) -> int:
    """A unit's time in ns: its PTS, else its DTS, else the time of the unit before it.

    A parser may hand over a unit without a time; taken as it is, GStreamer's "none"
    (2**64 - 1 ns) became a wall time centuries ahead and broke RTSP playback.
    """
    for t in (buf.pts, buf.dts):
        if t != Gst.CLOCK_TIME_NONE:
            return int(t)
    return last


def _units(seg: Segment, from_s: float, codec: str) -> Iterator[tuple[float, bytes, bool]]:
    """(wall time, data, keyframe) of ``seg`` from about ``from_s`` into it."""
    pipeline, out = _pipeline(Path(seg.file), codec)
    try:
        pipeline.set_state(Gst.State.PAUSED)
        if pipeline.get_state(5 * Gst.SECOND)[0] == Gst.StateChangeReturn.FAILURE:
            raise ReadError(f"cannot read {Path(seg.file).name}")
        first = out.emit("try-pull-preroll", 5 * Gst.SECOND)
        if first is None:
            return
        t0 = timed(first.get_buffer(), 0)
        if from_s > 0:
            pipeline.seek_simple(
                Gst.Format.TIME,
                Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT | Gst.SeekFlags.SNAP_BEFORE,
                t0 + int(from_s * Gst.SECOND),
            )
        pipeline.set_state(Gst.State.PLAYING)
        last = t0
        while (sample := out.emit("try-pull-sample", 5 * Gst.SECOND)) is not None:
            buf = sample.get_buffer()
            last = timed(buf, last)
            wall = seg.start + (last - t0) / Gst.SECOND
            data = buf.extract_dup(0, buf.get_size())
            flagged = not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)
            yield wall, data, flagged and is_random_access(data, codec)
    finally:
        pipeline.set_state(Gst.State.NULL)


def _from_keyframe(
    units: Iterator[tuple[float, bytes, bool]], at: float, codec: str
) -> Iterator[AccessUnit]:
    """The units from the last keyframe at or before ``at`` on; nothing if none is seen."""
    gop: list[AccessUnit] = []
    for wall, data, key in units:
        au = AccessUnit(data, wall, key, codec)
        if gop and not (key and wall <= at + 1e-3) and gop[-1].pts + 1e-3 >= at:
            yield from gop  # reached the instant: the GOP it is in goes first
            gop = []
            yield au
            yield from (AccessUnit(d, w, k, codec) for w, d, k in units)
            return
        if key and wall <= at + 1e-3:
            gop = [au]
        elif gop:
            gop.append(au)
        elif wall > at:
            return  # started after the instant without a keyframe
    yield from gop


def read_segment(
    seg: Segment, at: float, codec: str = "h264", keyframes_only: bool = False
) -> Iterator[AccessUnit]:
    """Units of ``seg`` from the keyframe at or before ``at`` (wall time) on."""
    offset = at - seg.start
    for from_s in [offset - LOOKBACK_S, 0.0] if offset > LOOKBACK_S else [0.0]:
        units = _from_keyframe(_units(seg, from_s, codec), at, codec)
        first = next(units, None)
        if first is None:
            continue  # the seek landed past the keyframe: read from the start
        yield first
        yield from (u for u in units if u.keyframe or not keyframes_only)
        return


def read_from(
    segments: list[Segment],
    at: float,
    codec: str = "h264",
    keyframes_only: bool = False,
    gap_s: float = 0.5,
) -> Iterator[tuple[AccessUnit, bool]]:
    """(unit, after_gap) from the keyframe at or before ``at`` on, across segments;
    ``after_gap`` marks the first unit after a gap in the recording."""
    prev_end: float | None = None
    for seg in segments:
        if seg.end <= at:
            continue
        gap = prev_end is not None and seg.start - prev_end > gap_s
        try:
            for i, au in enumerate(read_segment(seg, max(at, seg.start), codec, keyframes_only)):
                yield au, gap and i == 0
        except ReadError as exc:  # a segment a failed write left empty: played as a gap
            log.warning("playback: %s (skipped as a gap)", exc)
            continue
        prev_end = seg.end


def pump(
    units: Iterator[tuple[AccessUnit, bool]],
    queue: asyncio.Queue[tuple[AccessUnit, bool] | None],
    loop: asyncio.AbstractEventLoop,
    stop: threading.Event,
    end: float | None = None,
) -> None:
    """Run in a worker thread: feed ``units`` to ``queue`` on ``loop`` until ``stop`` is set
    or a unit passes ``end``; ``None`` marks the end of the footage (unless stopped)."""
    try:
        for item in units:
            if stop.is_set() or (end is not None and item[0].pts > end):
                break
            asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
    finally:
        if not stop.is_set():
            asyncio.run_coroutine_threadsafe(queue.put(None), loop).result()
