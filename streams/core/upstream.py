"""One upstream session: source element -> depayloader -> parser -> tee.

The tee carries length-prefixed access units (``avc``/``hvc1``, parameter sets in band
before every keyframe) and feeds, without leaving C, a ``proxysink`` (the RTSP
re-serve's media pulls from it through a ``proxysrc``), an appsink used as a ring
buffer and the recording branch (streams/recording/branch.py), which muxes them as
they are: the stream is parsed once, whoever reads it. Python consumers get Annex-B
(``annex_b``: each length prefix replaced by a start code, in one copy).
Python sees frames in one of two modes: ``live`` (the appsink signals every
frame; for WebRTC/fMP4/clip consumers, who need them at once) or drained in
batches by ``drain()`` (only when the GOP cache or the pre-event buffer is read),
so a camera that only RTSP readers watch costs no Python per frame; its health
comes from counters kept in C (``counters()``). A session is one connection to a camera; the stream
actor makes a new one on every (re)connect. Callbacks come from GStreamer
threads and must be thread-safe and quick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import Gst, GstApp  # noqa: E402, F401 (GstApp: appsink methods)

from streams.core.media import SUPPORTED_CODECS  # noqa: E402

log = logging.getLogger(__name__)

#: Caps of elementary-stream pads (no RTP depayloader needed) -> encoding name.
ELEMENTARY = {"video/x-h264": "H264", "video/x-h265": "H265"}

OnUnit = Callable[
    [bytes, float | None, bool, str], None
]  # data, pts s (None: unknown), keyframe, codec
OnError = Callable[[str], None]
OnLinked = Callable[["UpstreamSession"], None]


class UpstreamSession:
    """A GStreamer pipeline pulling one camera into ``on_unit``; errors to ``on_error``."""

    def __init__(
        self,
        make_source: Callable[[], Gst.Element],
        on_unit: OnUnit,
        on_error: OnError,
        name: str = "camera",
        ring_size: int = 600,
        on_linked: OnLinked | None = None,
    ) -> None:
        self.name = name
        self.on_unit = on_unit
        self.on_error = on_error
        self.on_linked = on_linked
        self.ring_size = ring_size
        self.codec: str | None = None
        self.proxysink: Gst.Element | None = None
        self.ring: Gst.Element | None = None
        self.tee: Gst.Element | None = None  # more C branches (recording) attach here
        #: Called with every element message; True when handled. Errors whose source a hook
        #: claims (a recording branch) do not fail the camera.
        self.message_hooks: list[Callable[[Gst.Message], bool]] = []
        self.stop_hooks: list[Callable[[], None]] = []  # before teardown (finish a segment)
        self._live = True  # until told otherwise: the first frame must be seen at once
        self._pull_lock = threading.Lock()
        self._linked = False
        self._rtp_session: int | None = None  # rtspsrc's session of the video stream
        self._stopped = threading.Event()
        self.pipeline = Gst.Pipeline.new(f"upstream-{name}")
        self.src = make_source()
        self.pipeline.add(self.src)
        self.src.connect("pad-added", self._on_pad)
        self.src.connect("no-more-pads", self._on_no_more_pads)
        self.pipeline.get_bus().set_sync_handler(self._on_message)

    def start(self) -> None:
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self._fail("cannot start the upstream pipeline")

    def stop(self) -> None:
        """Tear down (blocking; call from a worker thread, never a GStreamer thread)."""
        self._stopped.set()
        for hook in list(self.stop_hooks):
            try:
                hook()
            except Exception:
                log.exception("%s: stop hook failed", self.name)
        self.pipeline.set_state(Gst.State.NULL)
        self.pipeline.get_bus().set_sync_handler(None)

    def _fail(self, message: str) -> None:
        if not self._stopped.is_set():
            self.on_error(message)

    def _on_message(self, _bus: Gst.Bus, msg: Gst.Message) -> Gst.BusSyncReply:
        if msg.type in (Gst.MessageType.ELEMENT, Gst.MessageType.ERROR) and self._hooked(msg):
            return Gst.BusSyncReply.DROP
        if msg.type == Gst.MessageType.ERROR:
            err, _debug = msg.parse_error()
            self._fail(_explain(err.message))
        elif msg.type == Gst.MessageType.EOS:
            self._fail("camera ended the stream")
        return Gst.BusSyncReply.DROP

    def _hooked(self, msg: Gst.Message) -> bool:
        for hook in list(self.message_hooks):
            try:
                if hook(msg):
                    return True
            except Exception:
                log.exception("%s: message hook failed", self.name)
        return False

    def _on_no_more_pads(self, _src: Gst.Element) -> None:
        if not self._linked:
            self._fail("camera offers no video stream")

    def _on_pad(self, _src: Gst.Element, pad: Gst.Pad) -> None:
        caps = pad.get_current_caps() or pad.query_caps(None)
        s = caps.get_structure(0)
        media = s.get_string("media") or ""
        encoding = (s.get_string("encoding-name") or "").upper()
        # Sources that demultiplex themselves (gb28181: PS over RTP) give elementary streams.
        elementary = ELEMENTARY.get(s.get_name())
        if elementary:
            media, encoding = "video", elementary
        if media != "video" or self._linked:
            self._sink_away(pad)  # audio, metadata, or a second video track
            return
        parts = pad.get_name().split("_")  # rtspsrc: recv_rtp_src_<session>_<ssrc>_<pt>
        if len(parts) > 3 and parts[3].isdigit():
            self._rtp_session = int(parts[3])
        codec = {"H264": "h264", "H265": "h265"}.get(encoding)
        if codec not in SUPPORTED_CODECS:
            self._sink_away(pad)
            self._fail(
                f"unsupported codec {encoding or '?'} (relay passes through H.264 and H.265)"
            )
            return
        chain = [
            Gst.ElementFactory.make("identity" if elementary else f"rtp{codec}depay"),
            Gst.ElementFactory.make(f"{codec}parse"),
            Gst.ElementFactory.make("capsfilter"),
            Gst.ElementFactory.make("tee"),
        ]
        chain[1].set_property("config-interval", -1)  # parameter sets before every keyframe
        chain[2].set_property("caps", whole_access_units(codec))  # what mp4mux takes as is
        tee = chain[3]
        tee.set_property("allow-not-linked", True)
        proxysink = Gst.ElementFactory.make("proxysink")  # to the RTSP media (streams/rtsp)
        ring = Gst.ElementFactory.make("appsink")  # newest frames, kept in C until pulled
        ring.set_property("emit-signals", self._live)
        ring.set_property("sync", False)
        ring.set_property("max-buffers", self.ring_size)
        ring.set_property("drop", True)
        ring.set_property("enable-last-sample", False)  # no GstSample made per frame for nobody
        ring.connect("new-sample", self._on_sample)
        for element in [*chain, proxysink, ring]:
            self.pipeline.add(element)
        if elementary:
            chain[0].link(chain[1])
        else:
            chain[0].link_filtered(chain[1], whole_access_units(codec))
        for a, b in zip(chain[1:], chain[2:], strict=False):
            a.link(b)
        tee.link(proxysink)
        tee.link(ring)
        for element in [*chain, proxysink, ring]:
            element.sync_state_with_parent()
        # The RTSP media outlives this session: a camera's end of stream must not end it.
        proxysink.get_static_pad("sink").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, _hold_eos)
        # Readers start on a keyframe: what the camera sends before its first one is dropped.
        proxysink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, until_keyframe)
        self.proxysink, self.ring, self.tee = proxysink, ring, tee
        self.codec = codec  # last: a reader seeing the codec finds the proxysink set
        if self.on_linked is not None:
            self.on_linked(self)
        if pad.link(chain[0].get_static_pad("sink")) != Gst.PadLinkReturn.OK:
            self._fail("cannot link the camera's video pad")
            return
        self._linked = True

    def _sink_away(self, pad: Gst.Pad) -> None:
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("async", False)
        self.pipeline.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))

    def set_live(self, live: bool) -> None:
        """Hand every frame over as it arrives (True) or only through ``drain()`` (False)."""
        if live == self._live:
            return
        self._live = live
        if self.ring is not None:
            self.ring.set_property("emit-signals", live)
        if live:
            self.drain()  # frames queued meanwhile go first, in order

    def set_ring_size(self, frames: int) -> None:
        self.ring_size = frames
        if self.ring is not None and self.ring.get_property("max-buffers") != frames:
            self.ring.set_property("max-buffers", frames)

    def frames(self) -> int:
        """Frames the tee has passed so far (into the ring: every branch saw them)."""
        ring = self.ring
        return int(ring.get_property("stats").get_value("rendered")) if ring else 0

    def counters(self) -> tuple[int, int | None]:
        """Cumulative (frames into the ring, octets the camera sent; None if unknown)."""
        frames = self.frames()
        try:
            return frames, self._octets()
        except (TypeError, ValueError):  # stats of an unexpected shape: no bitrate, no crash
            return frames, None

    def _octets(self) -> int | None:
        manager = self.src.get_by_name("manager") if isinstance(self.src, Gst.Bin) else None
        if manager is None or self._rtp_session is None:
            return None
        session = manager.emit("get-session", self._rtp_session)
        if session is None:
            return None
        stats = session.get_property("stats")  # keep it referenced: the sources live in it
        total = 0
        for source in stats.get_value("source-stats") or []:
            # The camera's source; rtpbin also lists its own (internal, nothing received).
            if not source.get_value("internal"):
                total += int(source.get_value("octets-received"))
        return total

    def drain(self) -> int:
        """Hand over every frame waiting in the ring; returns how many (thread-safe)."""
        ring, n = self.ring, 0
        if ring is None:
            return 0
        with self._pull_lock:
            while (sample := ring.try_pull_sample(0)) is not None:
                self._deliver(sample)
                n += 1
        return n

    def _on_sample(self, sink: Gst.Element) -> Gst.FlowReturn:
        with self._pull_lock:  # never pulls what a drain took (order is kept)
            sample = sink.try_pull_sample(0)
            if sample is not None:
                self._deliver(sample)
        return Gst.FlowReturn.OK

    def _deliver(self, sample: Gst.Sample) -> None:
        buf = sample.get_buffer()
        data = annex_b(buf.extract_dup(0, buf.get_size()))  # one call: fewer GObject hops
        pts = buf.pts / Gst.SECOND if buf.pts != Gst.CLOCK_TIME_NONE else None
        keyframe = not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)
        try:
            self.on_unit(data, pts, keyframe, self.codec or "")
        except Exception:  # a consumer bug must not kill the camera's streaming thread
            log.exception("%s: consumer failed", self.name)


START_CODE = b"\x00\x00\x00\x01"


def annex_b(data: bytes) -> bytes:
    """A length-prefixed access unit (the parser's 4-byte prefixes) as Annex-B: the
    prefixes become start codes of the same size, so it is one copy and no search."""
    out = bytearray(data)
    i, end = 0, len(out)
    while i + 4 <= end:
        size = int.from_bytes(out[i : i + 4], "big")
        out[i : i + 4] = START_CODE
        i += 4 + size
    return bytes(out)


def until_keyframe(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    """Pad probe: drop delta frames, then remove itself at the first keyframe."""
    buf = info.get_buffer()
    if buf is not None and buf.has_flags(Gst.BufferFlags.DELTA_UNIT):
        return Gst.PadProbeReturn.DROP
    return Gst.PadProbeReturn.REMOVE  # the first keyframe passes, and so does all that follows


def _hold_eos(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    event = info.get_event()
    if event is not None and event.type in (
        Gst.EventType.EOS,
        Gst.EventType.FLUSH_START,
        Gst.EventType.FLUSH_STOP,
    ):
        return Gst.PadProbeReturn.DROP
    return Gst.PadProbeReturn.OK


def whole_access_units(codec: str) -> Gst.Caps:
    """Caps of length-prefixed whole access units: between depayloader and parser (they keep
    each RTP access unit whole) and after the parser (the tee's, what mp4mux takes).

    Cameras (and GStreamer's own rtph264pay config-interval=-1) repeat SPS/PPS
    before every IDR slice of a multi-slice keyframe. A byte-stream parser reads
    such a parameter set as the start of a new access unit and cuts the keyframe
    in two (the second half without a timestamp), so WebRTC viewers decode only
    the last slice (a picture that is green above it). Length-prefixed AUs keep
    the depayloader's framing (RTP marker/timestamp) and move the parameter sets
    out of band; the parser then re-inserts them once, before the keyframe.
    """
    fmt = {"h264": "avc", "h265": "hvc1"}[codec]
    return Gst.Caps.from_string(f"video/x-{codec},stream-format={fmt},alignment=au")


def _explain(message: str) -> str:
    """GStreamer's error text, with the common camera failures said plainly."""
    low = message.lower()
    if "unauthorized" in low or "401" in low:
        return "camera refused the credentials (401 Unauthorized): wrong user or password"
    if low.strip() == "not found" or ("not found" in low and "404" in low):
        return "camera has no such stream (404 Not Found): check the URL path"
    if "could not open resource" in low or "connection refused" in low:
        return f"camera unreachable: {message}"
    return message
