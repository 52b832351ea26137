"""Recorded footage over RTSP for VLC and ffmpeg: ``rtsp://relay:8554/<camera>/recorded
?token=<play token>&start=<unix s>``.

One media per reader (never shared): ``appsrc ! parse ! pay``, fed from the segment
reader. Media time 0 is the keyframe at or before ``start`` (default: the oldest footage);
a ``Range: npt=<s>-`` (ffmpeg ``-ss``, a VLC seek) moves to ``start + s`` of recorded
time. ``Scale`` (PLAY header, or ``scale=`` in the URL for ffmpeg) plays at 2x, 4x or 8x:
keyframes only above 2x, timestamps divided by the scale here. Gaps in the recording are
skipped. The token must allow ``playback`` (checked
again here: the RTSP gate checks only that the camera may be reached).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Protocol
from urllib.parse import parse_qs

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer  # noqa: E402

from streams.core.media import AccessUnit  # noqa: E402
from streams.playback.reader import read_from  # noqa: E402
from streams.recording.journal import Journal  # noqa: E402
from streams.rtsp.auth import token_from_request  # noqa: E402

log = logging.getLogger(__name__)

#: Playback speeds (URL ``scale=`` or a PLAY ``Scale`` header); above 2x keyframes only.
SCALES = (1.0, 2.0, 4.0, 8.0)
Authorize = Callable[[str, str | None], tuple[float, float] | None | bool]


class _Feed:
    """Units for one appsrc, restartable at a recorded instant (seek)."""

    def __init__(self, journal: Journal, codec: str, start: float, scale: float = 1.0) -> None:
        self.journal, self.codec, self.start = journal, codec, start
        #: Playback speed (URL ``scale=``, or a PLAY ``Scale`` header): recorded time runs
        #: this much faster than the timestamps sent, which this feed divides by it.
        self.scale = scale
        self.pushing_segment = False  # the segment with the applied rate is on its way
        self._lock = threading.Lock()
        self._units: Iterator[tuple[AccessUnit, bool]] = iter(())
        self._t0 = 0.0  # wall time of media time 0 of the current run
        self._base = 0.0  # media time the current run starts at
        self._shift = 0.0  # gaps skipped so far
        self._last = -1.0
        self.seek(0)

    def seek(self, offset_ns: int) -> bool:
        with self._lock:
            at = self.start + offset_ns / Gst.SECOND
            self._units = read_from(self.journal.overlapping(at), at, self.codec)
            self._base, self._t0, self._shift, self._last = offset_ns / Gst.SECOND, -1.0, 0.0, -1.0
        return True

    @property
    def keyframes_only(self) -> bool:
        return self.scale > 2

    def set_scale(self, scale: float) -> None:
        with self._lock:
            self.scale = scale

    def _next_unit(self) -> tuple[AccessUnit, bool] | None:
        """The next unit to send (above 2x keyframes only; a gap skipped over stays one)."""
        gap = False
        for au, after_gap in self._units:
            gap = gap or after_gap
            if au.keyframe or not self.keyframes_only:
                return au, gap
        return None

    def next_buffer(self) -> Gst.Buffer | None:
        with self._lock:
            item = self._next_unit()
            if item is None:
                return None
            au, after_gap = item
            if self._t0 < 0:
                self._t0 = au.pts
            elif after_gap:
                self._shift += au.pts - self._last - 0.04  # a gap plays as one frame time
            pts = self._base + ((au.pts - self._t0) - self._shift) / self.scale
            self._last = au.pts
            buf = Gst.Buffer.new_wrapped(au.data)
            buf.pts = buf.dts = int(max(pts, 0.0) * Gst.SECOND)
            if not au.keyframe:
                buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
            return buf


class RecordedMediaFactory(GstRtspServer.RTSPMediaFactory):
    def __init__(self, journal: Journal, codec: Callable[[], str], authorize: Authorize) -> None:
        super().__init__()
        self.journal = journal
        self.codec = codec
        self.authorize = authorize  # (camera, token) -> window | None | False (refused)
        self.set_shared(False)
        self.connect("media-configure", self._configure)
        self._starts: dict[int, tuple[float, float]] = {}

    def do_create_element(self, url: object) -> Gst.Element | None:
        query = parse_qs(getattr(url, "query", None) or "")
        token = token_from_request(getattr(url, "query", None), None)
        window = self.authorize(self.journal.camera_id, token)
        if window is False:
            log.info("rtsp playback %s: refused (no playback in token)", self.journal.camera_id)
            return None
        oldest = self.journal.summary()[2]
        if oldest is None:
            return None
        try:
            start = float(query.get("start", [oldest])[0])
            scale = float(query.get("scale", ["1"])[0])
        except ValueError:
            return None
        if scale not in SCALES:
            log.info("rtsp playback %s: scale %s refused (1, 2, 4 or 8)", self.journal.camera_id,
                     scale)
            return None
        if isinstance(window, tuple) and not window[0] <= start <= window[1]:
            return None
        codec = self.codec()
        element = Gst.parse_launch(
            f"( appsrc name=src format=time stream-type=seekable max-bytes=4000000 "
            f"caps=video/x-{codec},stream-format=byte-stream,alignment=au "
            f"! {codec}parse ! rtp{codec}pay name=pay0 pt=96 config-interval=-1 )"
        )
        self._starts[hash(element)] = (start, scale)
        log.info("rtsp playback %s from %.3f", self.journal.camera_id, start)
        return element

    def _configure(self, _factory: object, media: GstRtspServer.RTSPMedia) -> None:
        element = media.get_element()
        start, scale = self._starts.pop(hash(element), (0.0, 1.0))
        src = element.get_by_name("src")
        feed = _Feed(self.journal, self.codec(), start, scale)

        def need(appsrc: Gst.Element, _length: int) -> None:
            buf = feed.next_buffer()
            if buf is None:
                appsrc.emit("end-of-stream")
            else:
                appsrc.emit("push-buffer", buf)

        src.connect("need-data", need)
        src.connect("seek-data", lambda _src, offset: feed.seek(offset))
        pad = src.get_static_pad("src")
        pad.add_probe(Gst.PadProbeType.EVENT_UPSTREAM, scale_seek, (src, feed))
        pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, scaled_segment, feed)


class ScaledFeed(Protocol):
    """What the Scale probes need of a feed (this module's, or a GB/T 28181 device's)."""

    scale: float
    pushing_segment: bool

    def set_scale(self, scale: float) -> None: ...


def scale_seek(_pad: Gst.Pad, info: Gst.PadProbeInfo,
               data: tuple[Gst.Element, ScaledFeed]) -> Gst.PadProbeReturn:
    """A seek at a rate (a PLAY ``Scale`` header) becomes the feed's speed and a seek at 1x:
    this feed scales the timestamps itself (keyframes only above 2x), so that players and
    RTP clocks follow at wall speed. A speed not offered keeps the one playing."""
    event = info.get_event()
    if event is None or event.type != Gst.EventType.SEEK:
        return Gst.PadProbeReturn.OK
    rate, fmt, flags, start_type, start, stop_type, stop = event.parse_seek()
    if rate == 1.0:
        return Gst.PadProbeReturn.OK
    src, feed = data
    if rate in SCALES:
        feed.set_scale(rate)
    seek = Gst.Event.new_seek(1.0, fmt, flags, start_type, start, stop_type, stop)
    seek.set_seqnum(event.get_seqnum())
    src.send_event(seek)
    return Gst.PadProbeReturn.DROP


def scaled_segment(pad: Gst.Pad, info: Gst.PadProbeInfo, feed: ScaledFeed
                   ) -> Gst.PadProbeReturn:
    """Segments say what the timestamps went through (``applied_rate``): RTSP answers the
    ``Scale`` with it."""
    event = info.get_event()
    if (event is None or event.type != Gst.EventType.SEGMENT or feed.pushing_segment
            or feed.scale == 1.0):
        return Gst.PadProbeReturn.OK
    segment = event.parse_segment()
    segment.applied_rate = feed.scale
    scaled = Gst.Event.new_segment(segment)
    scaled.set_seqnum(event.get_seqnum())
    feed.pushing_segment = True
    try:
        pad.push_event(scaled)
    finally:
        feed.pushing_segment = False
    return Gst.PadProbeReturn.DROP
