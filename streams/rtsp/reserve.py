"""RTSP re-serve: each camera at rtsp://relay:PORT/<camera_id>, fed from the fan-out.

One shared gst-rtsp-server media per camera, fed in C: its ``proxysrc`` pulls
from the upstream session's ``proxysink`` (streams/core/upstream.py), so frames
reach RTSP readers without Python, and any number of readers cost one upstream
connection and no re-encoding. On a reconnect the media is re-pointed at the new
session and readers stay attached. The media holds a lease on
the stream while it exists, so RTSP readers keep an on-demand camera pulled.

Access (streams/rtsp/auth.py): ``?token=<play token>`` on the URL, or the token as
the Basic password (``rtsp://any:<token>@relay:PORT/<camera_id>``), checked on every
request before any media is built.
"""

from __future__ import annotations

import logging
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

from streams.core.stream import CameraStream, Lease  # noqa: E402
from streams.rtsp.auth import PlayTokenAuth, TokenCheck, Watch  # noqa: E402
from streams.rtsp.listen import ReusableRTSPServer  # noqa: E402

log = logging.getLogger(__name__)


def _attach(proxysrc: Gst.Element, proxysink: Gst.Element | None) -> None:
    """Pull from ``proxysink``, replaying its stream-start, caps and segment (proxysink does
    not, and a payloader that never saw caps refuses every buffer)."""
    proxysrc.set_property("proxysink", proxysink)
    if proxysink is None:
        return
    pad = proxysink.get_static_pad("sink")
    for kind in (Gst.EventType.STREAM_START, Gst.EventType.CAPS, Gst.EventType.SEGMENT):
        event = pad.get_sticky_event(kind, 0)
        if event is not None:
            pad.send_event(event)


def _drop_until_caps(pad: Gst.Pad, _info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    """Frames that outrun the replayed caps are dropped; then the probe goes away."""
    if pad.get_current_caps() is None:
        return Gst.PadProbeReturn.DROP
    return Gst.PadProbeReturn.REMOVE


#: Frames at most this far ahead of the media's clock are sent as they come.
AHEAD_NS = 200 * Gst.MSECOND


def _rebase(pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    """Frames carry the upstream session's running time. A media made when a reader comes
    after others left is that far behind it, and its clock-synced sinks held every frame
    for as long as the camera had been open. The first frame sets the pad's offset so that
    it is due now; then the probe goes away (the path stays in C)."""
    buf = info.get_buffer()
    pipeline = pad.get_parent_element()
    while pipeline is not None and pipeline.get_parent() is not None:
        pipeline = pipeline.get_parent()
    clock = pipeline.get_clock() if pipeline is not None else None
    event = pad.get_sticky_event(Gst.EventType.SEGMENT, 0)
    if buf is None or clock is None or event is None or buf.pts == Gst.CLOCK_TIME_NONE:
        return Gst.PadProbeReturn.OK  # not running yet: the next frame decides
    running = event.parse_segment().to_running_time(Gst.Format.TIME, buf.pts)
    now = clock.get_time() - pipeline.get_base_time()
    if running != Gst.CLOCK_TIME_NONE and running + pad.get_offset() > now + AHEAD_NS:
        pad.set_offset(pad.get_offset() - (running + pad.get_offset() - now))
    return Gst.PadProbeReturn.REMOVE


def _make_leaky(proxysrc: Gst.Element) -> None:
    """proxysrc queues internally; drop the oldest frames instead of blocking the pusher."""
    it = proxysrc.iterate_elements()
    while True:
        res, element = it.next()
        if res != Gst.IteratorResult.OK:
            break
        if element.get_factory() and element.get_factory().get_name() == "queue":
            element.set_property("leaky", 2)  # downstream: drop old
            element.set_property("max-size-buffers", 60)
            element.set_property("max-size-bytes", 0)
            element.set_property("max-size-time", 0)


class CameraMediaFactory(GstRtspServer.RTSPMediaFactory):
    """Builds the shared media of one camera: appsrc (fan-out consumer) ! payloader."""

    def __init__(self, stream: CameraStream, wait_codec_s: float) -> None:
        super().__init__()
        self.stream = stream
        self.wait_codec_s = wait_codec_s
        self.set_shared(True)
        self.set_latency(0)
        self.set_eos_shutdown(False)
        self.connect("media-configure", self._on_media_configure)
        self._pending: dict[int, Lease] = {}
        self._lock = threading.Lock()
        self._sources: dict[int, Gst.Element] = {}  # proxysrc of the live media (shared: one)
        stream.add_proxysink_listener(self._repoint)

    def do_gen_key(self, url: object) -> str:
        return self.stream.camera_id  # one shared media per camera, whatever the token

    def do_create_element(self, url: object) -> Gst.Element | None:
        lease = self.stream.acquire("rtsp")
        deadline = time.monotonic() + self.wait_codec_s
        while self.stream.upstream_codec is None and time.monotonic() < deadline:
            time.sleep(0.02)  # cold camera: wait for its SDP (h264/h265), not its first frame
        codec = self.stream.upstream_codec
        if codec is None:
            lease.release()
            log.warning(
                "rtsp %s: camera not available (%s)", self.stream.camera_id, self.stream.last_error
            )
            return None
        element = Gst.parse_launch(
            f"( proxysrc name=src ! rtp{codec}pay name=pay0 pt=96 config-interval=-1 "
            "aggregate-mode=zero-latency )"
        )
        element.set_name(f"rtsp-{self.stream.camera_id}")  # sessions_per_camera() reads it
        self._pending[hash(element)] = lease
        return element

    def _on_media_configure(self, _factory: object, media: GstRtspServer.RTSPMedia) -> None:
        element = media.get_element()
        lease = self._pending.pop(hash(element), None)
        src = element.get_by_name("src")
        _make_leaky(src)  # a paused media must never block the camera's streaming thread
        src.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, _rebase)
        pay = element.get_by_name("pay0")
        pay.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, _drop_until_caps)
        with self._lock:
            self._sources[id(src)] = src
        _attach(src, self.stream.proxysink)

        def unprepared(_m: object) -> None:
            with self._lock:
                self._sources.pop(id(src), None)
            if lease is not None:
                lease.release()

        media.connect("unprepared", unprepared)

    def _repoint(self, proxysink: Gst.Element) -> None:
        """A new upstream session (reconnect): the media pulls from it, readers stay."""
        with self._lock:
            sources = list(self._sources.values())
        for src in sources:
            _attach(src, proxysink)


#: Threads serving RTSP readers (gst-rtsp-server's pool; idle ones are reused).
CLIENT_THREADS = 64


class RtspReserve:
    """The relay's RTSP server: a mount per camera."""

    def __init__(
        self,
        host: str,
        port: int,
        check_token: TokenCheck | None = None,
        wait_codec_s: float = 10.0,
        watch: Watch | None = None,
    ) -> None:
        self.server = ReusableRTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(port))
        self.mounts = self.server.get_mount_points()
        # Readers in threads of their own: a reader of a cold camera waits in create_element
        # for its codec (a GB/T 28181 device: its next keyframe), and with gst-rtsp-server's
        # default of one thread every other reader would wait behind it.
        self.server.get_thread_pool().set_max_threads(CLIENT_THREADS)
        self.auth = PlayTokenAuth(check_token, watch) if check_token else None
        if self.auth is not None:
            self.server.set_auth(self.auth)
        self.wait_codec_s = wait_codec_s
        self._source_id: int | None = None

    def add(self, stream: CameraStream, path: str | None = None) -> None:
        factory = CameraMediaFactory(stream, self.wait_codec_s)
        self.mounts.add_factory(path or f"/{stream.camera_id}", factory)

    def remove(self, path: str) -> None:
        self.mounts.remove_factory(path)

    def start(self) -> int:
        """Listen (on the default GLib context); returns the bound port."""
        self._source_id = self.server.attach(None)
        if not self._source_id:
            raise RuntimeError(
                f"RTSP re-serve cannot listen on {self.server.get_address()}:"
                f"{self.server.get_service()}"
            )
        return int(self.server.get_bound_port())

    def sessions_per_camera(self) -> dict[str, int]:
        """RTSP sessions (one per reader that SETUP a camera) by camera id; thread-safe."""
        counts: dict[str, int] = {}
        for session in self.server.get_session_pool().filter(None):
            for media in session.filter(None):
                camera = (media.get_media().get_element().get_name() or "").removeprefix("rtsp-")
                counts[camera] = counts.get(camera, 0) + 1
        return counts

    def stop(self) -> None:
        if self._source_id:
            GLib.source_remove(self._source_id)
            self._source_id = None
