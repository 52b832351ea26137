"""Sends video access units as PS over RTP (UDP, or TCP with RFC 4571 framing):
what a GB/T 28181 device does, and what cascade output does toward a superior platform."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

from streams.gb28181 import ps, rtp


@dataclass
class PsRtpSender:
    ssrc: int
    codec: str = "h264"
    pt: int = 96
    seq: int = 0
    sent_frames: int = 0
    _udp: socket.socket | None = None
    _udp_to: tuple[str, int] | None = None
    _writer: asyncio.StreamWriter | None = None

    local_port: int = 0  #: the port packets leave from (announced in an SDP answer)

    @property
    def connected(self) -> bool:
        return self._udp is not None or self._writer is not None

    def udp(self, host: str, port: int) -> None:
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("0.0.0.0", 0))
        self.local_port = self._udp.getsockname()[1]
        self._udp_to = (host, port)

    async def tcp_connect(self, host: str, port: int) -> None:
        _reader, self._writer = await asyncio.open_connection(host, port)
        self.local_port = self._writer.get_extra_info("sockname")[1]

    def tcp_accepted(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def send(self, au: bytes, pts90k: int) -> None:
        frame = ps.mux_frame(au, self.codec, pts90k, ps.is_keyframe(au, self.codec))
        packets = list(rtp.packetize(frame, self.pt, self.seq, pts90k, self.ssrc))
        self.seq = (self.seq + len(packets)) & 0xFFFF
        if self._udp is not None and self._udp_to is not None:
            for p in packets:
                self._udp.sendto(p, self._udp_to)
        elif self._writer is not None:
            self._writer.write(b"".join(rtp.frame4571(p) for p in packets))
            await self._writer.drain()
        self.sent_frames += 1

    def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
