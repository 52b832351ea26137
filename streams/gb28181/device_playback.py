"""A GB/T 28181 channel's recordings kept on its device (NVR), over the relay's RTSP:
``rtsp://relay:8554/<camera>/device?token=<play token>&start=<unix s>&end=<unix s>
[&scale=2]`` (token with ``rtsp`` and ``playback``; ``[start, end]`` within its window).

One media per reader (never shared): ``appsrc ! parse ! pay`` fed by a
``DeviceRecording`` (INVITE ``s=Playback``). What the reader does goes to the device as
MANSRTSP: RTSP ``PAUSE`` -> ``PAUSE``, ``PLAY`` after a pause -> ``PLAY``, ``PLAY`` with
``Range: npt=<s>-`` -> ``PLAY Range`` (seconds from ``start``), a ``Scale`` header (or the
URL's ``scale=``, for ffmpeg) -> ``PLAY Scale``. Timestamps follow arrival, so a
device's fast play is seen at wall speed, as the relay's own recorded playback is. The
device's BYE at the end of the file ends the media (EOS: the reader gets RTCP BYE);
the reader leaving BYEs the device."""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import parse_qs

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer  # noqa: E402

from streams.gb28181.device_session import Channel, DeviceRecording  # noqa: E402
from streams.gb28181.ps import Frame  # noqa: E402
from streams.playback.rtsp import SCALES, Authorize, scale_seek, scaled_segment  # noqa: E402
from streams.rtsp.auth import token_from_request  # noqa: E402
from streams.sources.gb28181 import Gb28181Source  # noqa: E402

log = logging.getLogger(__name__)
FIRST_FRAME_S = 10.0  #: a device slower than this to send its recording: refused


class _Feed:
    """The appsrc side of one reader: timestamps by arrival from a base that pauses and
    seeks move; MANSRTSP for what the reader asks (duck-typed for ``scale_seek``)."""

    def __init__(self, rec: DeviceRecording, src: Gst.Element, scale: float) -> None:
        self.rec, self.src, self.scale = rec, src, scale
        self.pushing_segment = False
        self.playing = False  #: the reader has played (a later PAUSED is its PAUSE)
        self._lock = threading.Lock()
        self._base, self._t0, self._last = 0.0, -1.0, 0.0
        self._segment = 0.0  #: media time the current segment starts at (the last seek)
        self._await_key = False  #: after a seek: frames from the next keyframe on
        self._pause_due = False  #: the reader paused: the device pauses after one more frame
        self._commands = threading.Lock()  #: MANSRTSP reaches the device in order

    def push(self, frame: Frame) -> None:
        now = time.monotonic()
        with self._lock:
            if self._await_key and not frame.keyframe:
                return  # sent before the device moved, or undecodable after the flush
            self._await_key = False
            if self._t0 < 0:
                self._t0 = now
            pts = self._base + (now - self._t0)
            self._last = pts
        buf = Gst.Buffer.new_wrapped(frame.data)
        buf.pts = buf.dts = int(pts * Gst.SECOND)
        if not frame.keyframe:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        self.src.emit("push-buffer", buf)
        with self._commands:
            if self._pause_due:
                self._pause_due = False
                self.rec.command("pause")

    def _restart(self, base: float) -> None:
        with self._lock:
            self._base, self._t0 = base, -1.0

    def seek(self, offset_ns: int) -> bool:
        """A flushing seek (the reader's ``Range``; gst-rtsp-server also seeks to 0 when it
        prepares and on the first PLAY): what the appsrc held is gone, so the device goes
        there too (from the keyframe at or before), and media time restarts at the offset."""
        offset = offset_ns / Gst.SECOND
        still = self.playing and abs(offset - self._last) < 0.5  # a Scale without a Range
        with self._lock:
            self._base, self._t0, self._segment, self._await_key = offset, -1.0, offset, True
        self._pause_due = False  # the device's next frames are to be there
        if not still:  # after this returns appsrc drops what it holds: the device's
            # keyframe must come later, so the command goes from another thread
            threading.Thread(target=self._move, args=(offset,), daemon=True).start()
        return True

    def _move(self, offset: float) -> None:
        with self._commands:
            self.rec.command("play", npt=offset)

    def finish(self) -> None:
        """The device ended the call: EOS once what was pushed is due. Sent at once, the
        RTCP BYE it makes would overtake the RTP still waiting for its time, and readers
        (ffmpeg) stop at that BYE."""
        clock = self.src.get_clock()
        if clock is not None and self.playing:
            due = (self._last - self._segment) * Gst.SECOND  # the last frame's running time
            left = (due - (clock.get_time() - self.src.get_base_time())) / Gst.SECOND
            self.rec.stopped.wait(min(max(left + 0.2, 0.0), 10.0))  # or the reader left
        self.src.emit("end-of-stream")

    def set_scale(self, scale: float) -> None:
        if scale != self.scale:
            self.scale = scale
            self.rec.command("play", scale=scale)

    def state(self, state: int) -> None:
        """The media's new target state: the reader's PAUSE / PLAY.

        The device pauses only once a frame has been pushed after the reader's PAUSE:
        the pipeline's PLAYING -> PAUSED completes (prerolls) only when a buffer reaches
        the sinks, and until it has, gst-rtsp-server's next PLAY (its seek for a
        ``Range``) waits for it. Paused at once, the device could stop before any
        frame in flight landed, and that PLAY never got its answer."""
        with self._commands:
            if state == Gst.State.PLAYING:
                self._pause_due = False
                if self.rec.paused:
                    self._restart(self._last + 0.04)
                    self.rec.command("play")
                self.playing = True
            elif state == Gst.State.PAUSED and self.playing and not self.rec.paused:
                self._pause_due = True


class DevicePlaybackFactory(GstRtspServer.RTSPMediaFactory):
    def __init__(self, camera_id: str, channel: Channel, authorize: Authorize) -> None:
        super().__init__()
        self.camera_id, self.channel = camera_id, channel
        self.authorize = authorize  # (camera, token) -> window | None | False (refused)
        self.set_shared(False)
        self.connect("media-configure", self._configure)
        self._opened: dict[int, tuple[DeviceRecording, float]] = {}

    def do_create_element(self, url: object) -> Gst.Element | None:
        query = {k: v[0] for k, v in parse_qs(getattr(url, "query", None) or "").items()}
        window = self.authorize(self.camera_id, token_from_request(
            getattr(url, "query", None), None))
        try:
            start, end = int(float(query["start"])), int(float(query["end"]))
            scale = float(query.get("scale", "1"))
        except (KeyError, ValueError):
            log.info("device playback %s: start and end required", self.camera_id)
            return None
        if window is False or scale not in SCALES or not 0 < start < end or (
                isinstance(window, tuple) and not window[0] <= start < end <= window[1]):
            log.info("device playback %s: refused (%s-%s outside the token's playback)",
                     self.camera_id, start, end)
            return None
        rec = DeviceRecording(self.channel, start, end)
        codec = rec.open(FIRST_FRAME_S)
        if codec is None:
            rec.stop()
            log.info("device playback %s: nothing from the device (%s)", self.camera_id,
                     rec.end_reason or "timeout")
            return None
        if scale != 1.0:
            rec.command("play", scale=scale)
        element = Gst.parse_launch(
            f"( appsrc name=src format=time stream-type=seekable max-bytes=8000000 "
            f"caps=video/x-{codec},stream-format=byte-stream,alignment=au "
            f"! {codec}parse ! rtp{codec}pay name=pay0 pt=96 config-interval=-1 )")
        self._opened[hash(element)] = (rec, scale)
        log.info("device playback %s: %d-%d (call %s)", self.camera_id, start, end, rec.call_id)
        return element

    def _configure(self, _factory: object, media: GstRtspServer.RTSPMedia) -> None:
        element = media.get_element()
        rec, scale = self._opened.pop(hash(element))
        src = element.get_by_name("src")
        feed = _Feed(rec, src, scale)
        rec.on_end = feed.finish
        src.connect("seek-data", lambda _src, offset: feed.seek(offset))
        pad = src.get_static_pad("src")
        pad.add_probe(Gst.PadProbeType.EVENT_UPSTREAM, scale_seek, (src, feed))
        pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, scaled_segment, feed)
        media.connect("new-state", lambda _m, state: feed.state(state))
        media.connect("unprepared", lambda _m: rec.stop())
        rec.attach(feed.push)
        if rec.ended.is_set():  # a short recording already played to its end
            feed.finish()


def channel_of(url: str) -> Channel | None:
    """The channel of a ``gb28181://`` camera URL (None for other cameras)."""
    if not url.lower().startswith("gb28181://"):
        return None
    s = Gb28181Source(url)
    return Channel(s.device, s.channel, s.control, s.token, s.transport, s.media_host)

