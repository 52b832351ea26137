"""``gb28181://<device>/<channel>?transport=udp|tcp-passive|tcp-active&control=<url>&token=..``

A GB/T 28181 channel as a pull source: when the stream starts, a receiver thread opens
an RTP port (UDP, or a TCP listener / connection with RFC 4571 framing), asks the SIP
service (its HTTP control API; the relay never imports the hub) to INVITE the channel
to it, joins RTP packets into PS frames (SSRC from the ``y=`` answer; learnt on the PS
pack header when absent), demultiplexes PS without re-encoding and pushes access units
into an ``appsrc``. The bin exposes its pad once the codec is known, so the upstream
session links it like an RTSP camera's video. BYE when the pipeline stops; an error
(the stream actor reconnects, re-INVITE) when media stops for ``media_timeout_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import parse_qs, urlsplit

import gi
import httpx

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

from streams.gb28181.control import post_control  # noqa: E402
from streams.gb28181.receiver import MediaReceiver  # noqa: E402

log = logging.getLogger(__name__)
MEDIA_TIMEOUT_S = 5.0  #: no frame for this long: the session fails and is re-INVITEd


class Gb28181Source:
    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 transport: str = "tcp") -> None:
        parts = urlsplit(url)
        self.device = parts.hostname or ""
        self.channel = parts.path.strip("/")
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.control = q.get("control", "")
        self.token = q.get("token", "")
        self.transport = q.get("transport", "udp")
        self.media_host = q.get("media_host", "127.0.0.1")
        self.display_url = f"gb28181://{self.device}/{self.channel}"

    def make_element(self) -> Gst.Element:
        if not self.control:
            raise RuntimeError(f"{self.display_url}: no SIP service control URL configured")
        session = _Session(self)
        return session.bin


class _Session:
    """One INVITE: the receiver thread feeding the bin's appsrc until told to stop."""

    def __init__(self, src: Gb28181Source) -> None:
        self.src = src
        self.bin = Gst.Bin.new(None)
        self.appsrc = Gst.ElementFactory.make("appsrc")
        self.appsrc.set_property("is-live", True)
        self.appsrc.set_property("do-timestamp", True)
        self.appsrc.set_property("format", Gst.Format.TIME)
        self.bin.add(self.appsrc)
        self.call_id: str | None = None
        self.stopped = threading.Event()
        self._pad: Gst.GhostPad | None = None
        self.thread = threading.Thread(target=self._run, name=f"gb-{src.channel}", daemon=True)
        self.thread.start()

    def _fail(self, message: str) -> None:
        if self.stopped.is_set():
            return
        log.warning("%s: %s", self.src.display_url, message)
        err = Gst.Message.new_error(self.appsrc, GLibError(message), message)
        self.bin.post_message(err)
        self.stopped.set()

    def _run(self) -> None:
        try:
            self._receive()
        except Exception as exc:  # never kill the relay: the stream actor retries
            self._fail(f"GB/T 28181 session failed: {exc}")
        finally:
            self._bye()

    def _control(self, path: str, body: dict[str, object]) -> dict[str, object]:
        return post_control(self.src.control, self.src.token, path, body)

    def _receive(self) -> None:
        media = MediaReceiver(self.src.transport, self.src.media_host)
        try:
            answer = self._control("/invite", {
                "device": self.src.device, "channel": self.src.channel,
                "host": self.src.media_host, "port": media.port,
                "transport": self.src.transport})
            self.call_id = str(answer["call_id"])
            media.connect(answer, MEDIA_TIMEOUT_S)
            self._loop(media)
        finally:
            media.close()

    def _loop(self, media: MediaReceiver) -> None:
        last = time.monotonic()
        for out in media.frames():
            if self.stopped.is_set() or self.appsrc.get_parent() is None or \
                    self._pipeline_stopped():
                return
            if out is None:
                if time.monotonic() - last > MEDIA_TIMEOUT_S:
                    raise RuntimeError(f"no media for {MEDIA_TIMEOUT_S:.0f} s")
                continue
            last = time.monotonic()
            self._push(out.codec, out.data, out.keyframe)

    def _pipeline_stopped(self) -> bool:
        return self._pad is not None and self.appsrc.current_state == Gst.State.NULL

    def _push(self, codec: str, data: bytes, keyframe: bool) -> None:
        if self._pad is None:
            caps = Gst.Caps.from_string(f"video/x-{codec},stream-format=byte-stream,alignment=au")
            self.appsrc.set_property("caps", caps)
            pad = Gst.GhostPad.new("src", self.appsrc.get_static_pad("src"))
            pad.set_active(True)
            # The linker reads the codec from the pad's current caps: make them known now
            # rather than when the first buffer has travelled (a race with pad-added).
            pad.store_sticky_event(Gst.Event.new_stream_start(self.src.channel))
            pad.store_sticky_event(Gst.Event.new_caps(caps))
            self._pad = pad
            self.bin.add_pad(pad)  # "pad-added": the upstream session links its chain
        buf = Gst.Buffer.new_wrapped(data)
        if not keyframe:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        if self.appsrc.emit("push-buffer", buf) == Gst.FlowReturn.FLUSHING:
            self.stopped.set()

    def _bye(self) -> None:
        if self.call_id is None:
            return
        try:
            self._control("/bye", {"call_id": self.call_id})
        except (httpx.HTTPError, RuntimeError) as exc:
            log.info("%s: BYE not delivered: %s", self.src.display_url, exc)


def GLibError(message: str) -> GLib.Error:  # noqa: N802
    return GLib.Error.new_literal(GLib.quark_from_string("gb28181"), message, 1)
