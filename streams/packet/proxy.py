"""Paths the packet core does not serve, passed through to the GStreamer re-serve behind it.

With the packet core the relay's RTSP port is the packet server's; GB/T 28181, ONVIF and file
cameras, recorded and device playback and the ``h264`` profile are served by the GStreamer
re-serve on a loopback port of its own. A redirect (302) to that port would need a second
port open to readers (a Kubernetes Service, a firewall, a NetworkPolicy expose one); so the
reader's connection is spliced to it instead: its bytes go both ways unchanged, the re-serve
checks the play token as it does without the packet core. The re-serve would send UDP to the
splice's address (loopback), so a SETUP asking for UDP is answered 461 here (readers such as
ffmpeg and GStreamer's rtspsrc then ask for TCP-interleaved, as with the packet core's paths).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from streams.packet.wire import Message, WireError, response, split

log = logging.getLogger(__name__)


def encode(msg: Message) -> bytes:
    """A parsed request as bytes again (header names lower-case: RTSP's are case-blind)."""
    lines = [f"{msg.method} {msg.url} RTSP/1.0"]
    for name, value in msg.headers.items():
        lines += [f"{name}: {v}" for v in value.split("\n")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + msg.body


def wants_udp(msg: Message) -> bool:
    return msg.method == "SETUP" and "RTP/AVP/TCP" not in msg.header("transport").upper()


class Upstream(asyncio.Protocol):
    """The connection to the GStreamer re-serve: what it sends goes to the reader as is."""

    def __init__(self, reader: asyncio.Transport, on_lost: Callable[[], None]) -> None:
        self.reader, self.on_lost = reader, on_lost
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.reader.is_closing():
            self.reader.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_lost()


class Splice:
    """One reader's connection passed to the re-serve at ``host``:``port``."""

    def __init__(self, reader: asyncio.Transport) -> None:
        self.reader = reader
        self.upstream: Upstream | None = None
        self.buf = bytearray()

    async def open(self, host: str, port: int) -> bool:
        """Connect; False if the re-serve is down."""
        loop = asyncio.get_running_loop()
        try:
            _t, self.upstream = await loop.create_connection(
                lambda: Upstream(self.reader, self.close), host, port)
        except OSError as exc:
            log.warning("rtsp: GStreamer re-serve at %s:%d unreachable: %s", host, port, exc)
            return False
        return True

    def forward(self, msgs: list[Message]) -> None:
        """Requests the reader sent before the splice (parsed already)."""
        for msg in msgs:
            self._forward(msg)

    def feed(self, data: bytes) -> None:
        """Bytes from the reader: forwarded as they came, a UDP SETUP answered 461 here."""
        self.buf += data
        try:
            frames, msgs, used = split(self.buf)
        except WireError as exc:
            log.info("rtsp reader (passed through): %s; closing", exc)
            self.close()
            return
        if any(wants_udp(m) for m in msgs):
            for start, end in frames:
                self._send(bytes(self.buf[start:end]))
            for msg in msgs:
                self._forward(msg)
        else:
            self._send(bytes(self.buf[:used]))
        del self.buf[:used]

    def _forward(self, msg: Message) -> None:
        if wants_udp(msg):
            self.reader.write(response(461, "Unsupported Transport", msg.header("cseq", "0")))
        else:
            self._send(encode(msg))

    def _send(self, data: bytes) -> None:
        upstream = self.upstream.transport if self.upstream is not None else None
        if data and upstream is not None and not upstream.is_closing():
            upstream.write(data)

    def pause(self, paused: bool) -> None:
        """The reader is slow (its transport's buffer full): stop reading the re-serve."""
        upstream = self.upstream.transport if self.upstream is not None else None
        if upstream is not None and not upstream.is_closing():
            (upstream.pause_reading if paused else upstream.resume_reading)()

    def close(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()
        if not self.reader.is_closing():
            self.reader.close()
