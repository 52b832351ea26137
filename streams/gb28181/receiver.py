"""The relay's end of a GB/T 28181 media session (blocking, for a receiver thread): an RTP
port (UDP, a TCP listener for ``tcp-passive`` or a connection to the device for
``tcp-active``, RFC 4571 framing), packets joined into PS frames under the answer's SSRC
and demultiplexed without re-encoding. Shared by live channels (``streams.sources.
gb28181``) and a device's recordings (``streams.gb28181.device_playback``)."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

from streams.gb28181.ps import Frame, PsDemuxer, PsError
from streams.gb28181.rtp import FrameAssembler, Rfc4571Reader

TICK_S = 0.25  #: the longest ``frames`` goes without yielding (None) to let callers look up


class MediaClosed(RuntimeError):
    """The device closed its TCP media connection."""


class MediaReceiver:
    def __init__(self, transport: str, host: str) -> None:
        self.transport = transport
        self.tcp = transport != "udp"
        self.sock = socket.socket(socket.AF_INET,
                                  socket.SOCK_STREAM if self.tcp else socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        if transport == "tcp-passive":
            self.sock.listen(1)
        self.port: int = self.sock.getsockname()[1]
        self.assembler = FrameAssembler()

    def connect(self, answer: dict[str, object], timeout_s: float) -> None:
        """After the INVITE: the answer's SSRC; accept (passive) or connect (active)."""
        ssrc = str(answer.get("ssrc") or "")
        self.assembler.ssrc = int(ssrc) if ssrc.isdigit() and int(ssrc) else None
        if self.transport == "tcp-passive":
            listener = self.sock
            listener.settimeout(timeout_s)
            try:
                self.sock, _ = listener.accept()
            except TimeoutError:
                raise RuntimeError("device did not connect its TCP media") from None
            finally:
                listener.close()
        elif self.transport == "tcp-active":
            self.sock.close()
            self.sock = socket.create_connection(
                (str(answer["device_host"]), int(str(answer["device_port"]))), timeout=timeout_s)

    def frames(self) -> Iterator[Frame | None]:
        """Demultiplexed frames as they come; None every ``TICK_S`` without one. Raises
        MediaClosed when a TCP device hangs up, RuntimeError on a codec not passed."""
        demux, framer = PsDemuxer(), Rfc4571Reader()
        while True:
            ready, _, _ = select.select([self.sock], [], [], TICK_S)
            if not ready:
                yield None
                continue
            data = self.sock.recv(65536)
            if self.tcp and not data:
                raise MediaClosed("device closed the TCP media connection")
            for packet in framer.feed(data) if self.tcp else [data]:
                for frame in self.assembler.push(packet):
                    try:
                        out = demux.feed(frame)
                    except PsError as exc:
                        if demux.unsupported:
                            raise RuntimeError(str(exc)) from None
                        continue  # one broken frame; the next pack header resyncs
                    if out is not None:
                        yield out

    def close(self) -> None:
        self.sock.close()
