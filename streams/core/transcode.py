"""The ``h264`` profile: a camera's main stream decoded and encoded to H.264 (x264).

For H.265 cameras and browsers without an HEVC decoder (headless Chromium, WebRTC). It is
one more source for a :class:`~streams.core.stream.CameraStream`, so outputs, on-demand
start, idle close and health work as for any profile. It never opens a second camera
connection: while running it leases the main stream and reads its access units from the
fan-out (starting on the cached GOP, so the first picture comes at once), pushes them into
an ``appsrc`` and decodes/encodes in this bin's own threads (a slow encoder drops frames
here, never stalls the camera). Each camera keyframe forces an H.264 keyframe: the GOP
stays the camera's.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstVideo  # noqa: E402

Gst.init(None)  # before subclassing a GStreamer class (idempotent)

from streams.core.media import AccessUnit  # noqa: E402

if TYPE_CHECKING:
    from streams.core.stream import CameraStream, Lease

log = logging.getLogger(__name__)

PROFILE = "h264"  #: the profile name (``?profile=h264``; RTSP ``/{camera}/h264``)
SUFFIX = "~h264"  #: its stream id suffix (health, metrics)
DEFAULT_KBPS = 2000  #: encoder bitrate when the camera's is not known yet
#: Decoders by codec, the first one installed is used (gstreamer1.0-libav, -plugins-bad).
DECODERS = {"h265": ("avdec_h265", "libde265dec"), "h264": ("avdec_h264",)}
#: Encoded frames waiting for the decoder at most; older ones are dropped when it lags.
MAX_QUEUED = 50


def decoder_for(codec: str) -> str:
    for name in DECODERS.get(codec, ()):
        if Gst.ElementFactory.find(name) is not None:
            return name
    raise RuntimeError(f"no {codec} decoder installed (gstreamer1.0-libav)")


def encoder_kbps(source_bps: float) -> int:
    """Near the camera's bitrate (H.264 needs a little more than H.265 for the same
    picture), within sane bounds; the default before the camera's rate is measured."""
    if source_bps <= 0:
        return DEFAULT_KBPS
    return int(min(8000, max(500, source_bps * 1.2 / 1000)))


class TranscodeSource(Gst.Bin):
    """A source element (as ``rtspsrc``: one ``video/x-h264`` pad added once media flows)
    fed by ``main``'s fan-out while in PAUSED or PLAYING."""

    __gtype_name__ = "CityhubTranscodeSource"

    def __init__(self, main: CameraStream, stats: TranscodeStats) -> None:
        super().__init__()
        self.main = main
        self.stats = stats
        self._lock = threading.Lock()
        self._lease: Lease | None = None
        self._cid: int | None = None
        self._src: Gst.Element | None = None
        self._keyframes: set[int] = set()
        self._base: float | None = None

    def do_change_state(self, transition: Gst.StateChange) -> Gst.StateChangeReturn:
        log.debug("%s: transcode %s", self.main.camera_id, transition.value_nick)
        if transition == Gst.StateChange.PAUSED_TO_READY:
            self._detach()
        ret = Gst.Bin.do_change_state(self, transition)
        if transition == Gst.StateChange.READY_TO_PAUSED:
            self._attach()
            # A live source: no preroll (its pad comes with the first camera frame).
            if ret == Gst.StateChangeReturn.SUCCESS:
                ret = Gst.StateChangeReturn.NO_PREROLL
        return ret

    def _attach(self) -> None:
        with self._lock:
            if self._lease is None:
                self._lease = self.main.acquire("transcode")
        loop = self.main._loop
        if loop is not None and not loop.is_closed():  # the GOP backlog off this thread
            loop.call_soon_threadsafe(self._subscribe)

    def _subscribe(self) -> None:
        with self._lock:
            if self._lease is None or self._cid is not None:
                return
        cid = self.main.fanout.subscribe(self._on_unit)
        with self._lock:
            if self._lease is None:  # stopped meanwhile
                self.main.fanout.unsubscribe(cid)
            else:
                self._cid = cid

    def _detach(self) -> None:
        with self._lock:
            lease, cid = self._lease, self._cid
            self._lease = self._cid = None
        if lease is not None:
            log.info("%s: transcode stopped", self.main.camera_id)
        if cid is not None:
            self.main.fanout.unsubscribe(cid)
        if lease is not None:
            lease.release()
        self.stats.running = False

    def _on_unit(self, au: AccessUnit) -> None:
        """A camera frame (the main stream's thread): into the decoder's queue."""
        if self._src is None:
            if not au.keyframe or not self._build(au.codec):
                return
        if self._base is None:
            self._base = au.pts
        buf = Gst.Buffer.new_wrapped(au.data)
        buf.pts = int((au.pts - self._base) * Gst.SECOND)
        if au.keyframe:
            if len(self._keyframes) > 16:
                self._keyframes.clear()
            self._keyframes.add(buf.pts)
        else:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        assert self._src is not None
        self.stats.arrived(buf.pts)
        self._src.emit("push-buffer", buf)
        self.stats.frames_in += 1

    def _build(self, codec: str) -> bool:
        """decoder -> x264 chain for ``codec``, then the pad (the session links it)."""
        try:
            decoder = decoder_for(codec)
        except RuntimeError as exc:
            self._error(str(exc))
            return False
        kbps = encoder_kbps(self.main.meter.rates()[1])
        desc = (
            f"appsrc name=src is-live=true format=time do-timestamp=false "
            f"leaky-type=downstream max-buffers={MAX_QUEUED} "
            f"! {codec}parse ! {decoder} ! videoconvert ! video/x-raw,format=I420 "
            f"! x264enc name=enc tune=zerolatency speed-preset=ultrafast bitrate={kbps} "
            f"key-int-max=250 ! video/x-h264,profile=constrained-baseline "
            f"! h264parse config-interval=-1 "
            '! capsfilter caps="video/x-h264,stream-format=byte-stream,alignment=au"'
        )
        try:
            chain = Gst.parse_bin_from_description(desc, True)
        except GLib.Error as exc:  # a plugin missing (gstreamer1.0-plugins-ugly: x264)
            self._error(f"cannot transcode: {exc.message}")
            return False
        chain.set_name("transcode")
        self.add(chain)
        src = chain.get_by_name("src")
        src.set_property("caps", Gst.Caps.from_string(
            f"video/x-{codec},stream-format=byte-stream,alignment=au"))
        enc = chain.get_by_name("enc")
        enc.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self._force_keyframe)
        chain.sync_state_with_parent()
        self.stats.started(codec, decoder, kbps)
        log.info("%s: transcoding %s -> h264 (%s, x264enc %d kb/s)", self.main.camera_id, codec,
                 decoder, kbps)
        out = chain.get_static_pad("src")
        out.add_probe(Gst.PadProbeType.BUFFER, self._encoded)
        out.add_probe(Gst.PadProbeType.EVENT_UPSTREAM, _no_reconfigure)
        ghost = Gst.GhostPad.new("src", out)
        ghost.set_active(True)
        self._src = src
        self.add_pad(ghost)  # pad-added: the upstream session links its chain to it
        return True

    def _force_keyframe(self, pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        """Where the camera sent a keyframe, so does the encoder (the camera's GOP)."""
        buf = info.get_buffer()
        if buf is not None and buf.pts in self._keyframes:
            self._keyframes.discard(buf.pts)
            pad.send_event(
                GstVideo.video_event_new_downstream_force_key_unit(
                    buf.pts, Gst.CLOCK_TIME_NONE, Gst.CLOCK_TIME_NONE, True, 0
                )
            )
        self.stats.frames_out += 1
        return Gst.PadProbeReturn.OK

    def _encoded(self, _pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        buf = info.get_buffer()
        if buf is not None:
            self.stats.encoded(buf.pts)
        return Gst.PadProbeReturn.OK

    def _error(self, message: str) -> None:
        error = GLib.Error.new_literal(Gst.CoreError.quark(), message, Gst.CoreError.FAILED)
        self.post_message(Gst.Message.new_error(self, error, message))


def _no_reconfigure(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    """An RTSP reader joining (a new media on the session's proxysink) asks upstream to
    renegotiate; the encoder would then send an allocation query down the tee into the
    media's queue, which holds it until the media prerolls: the transcode stalled. Its
    output never changes, so nothing is renegotiated."""
    event = info.get_event()
    if event is not None and event.type == Gst.EventType.RECONFIGURE:
        return Gst.PadProbeReturn.DROP
    return Gst.PadProbeReturn.OK


class TranscodeStats:
    """What health shows of a profile's transcode (read on the event loop, set in threads)."""

    def __init__(self) -> None:
        self.running = False
        self.source_codec: str | None = None
        self.decoder: str | None = None
        self.bitrate_kbps = 0
        self.frames_in = 0
        self.frames_out = 0  #: frames into the encoder (decoded)
        self.frames_encoded = 0
        self._arrivals: dict[int, float] = {}  # pts -> when the camera frame came in
        self._delays: deque[float] = deque(maxlen=100)  # the transcode's latency, s
        self._offset: int | None = None  # encoder output pts minus input pts

    def arrived(self, pts: int) -> None:
        if len(self._arrivals) > 200:  # frames the decoder dropped (it lagged)
            self._arrivals.clear()
        self._arrivals[pts] = time.monotonic()

    def encoded(self, pts: int) -> None:
        self.frames_encoded += 1
        if self._offset is None:  # x264enc shifts timestamps (by 1000 h): learn by how much
            self._offset = pts - min(self._arrivals, default=pts)
        t = self._arrivals.pop(pts - self._offset, None)
        if t is not None:
            self._delays.append(time.monotonic() - t)

    def started(self, codec: str, decoder: str, kbps: int) -> None:
        self.running, self.source_codec, self.decoder = True, codec, decoder
        self.bitrate_kbps = kbps
        self._arrivals.clear()  # a new session's timestamps start again at 0
        self._offset = None

    def health(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "from": self.source_codec,
            "to": "h264",
            "decoder": self.decoder,
            "encoder": "x264enc",
            "bitrate_kbps": self.bitrate_kbps,
            "frames_in": self.frames_in,
            "frames_decoded": self.frames_out,
            "frames_encoded": self.frames_encoded,
            #: what decoding and encoding adds (median of the last 100 frames), ms
            "latency_ms": round(statistics.median(self._delays) * 1000, 1)
            if self._delays else None,
        }


def transcode_factory(main: CameraStream, stats: TranscodeStats) -> Any:
    """``make_source`` for the ``h264`` profile's stream of ``main``."""

    def make() -> Gst.Element:
        return TranscodeSource(main, stats)

    return make

