"""RTP for GB/T 28181 PS: parse and check packets, RFC 4571 framing on TCP, frames
joined by timestamp/marker, and the packetizer for sending PS (one timestamp per frame,
marker on its last packet, as the 2022 edition requires)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_PAYLOAD = 1400
PS_START = b"\x00\x00\x01\xba"


@dataclass(frozen=True)
class RtpPacket:
    pt: int
    marker: bool
    seq: int
    ts: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket | None:
    """An RTP packet, or None for RTCP and anything else (garbage is not an error)."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    if 200 <= data[1] <= 204:  # RTCP SR/RR/SDES/BYE/APP sent to the RTP port
        return None
    cc, ext, padding = data[0] & 0x0F, data[0] & 0x10, data[0] & 0x20
    offset = 12 + 4 * cc
    if ext:
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack_from(">H", data, offset + 2)[0]
    end = len(data) - (data[-1] if padding and data[-1] else 0)
    if offset > end:
        return None
    seq, ts, ssrc = struct.unpack_from(">HII", data, 2)
    return RtpPacket(data[1] & 0x7F, bool(data[1] & 0x80), seq, ts, ssrc, data[offset:end])


def build_rtp(payload: bytes, pt: int, seq: int, ts: int, ssrc: int, marker: bool) -> bytes:
    return struct.pack(">BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc) + payload


def packetize(frame: bytes, pt: int, seq: int, ts: int, ssrc: int) -> Iterator[bytes]:
    chunks = [frame[i:i + MAX_PAYLOAD] for i in range(0, len(frame), MAX_PAYLOAD)] or [b""]
    for k, chunk in enumerate(chunks):
        yield build_rtp(chunk, pt, seq + k, ts, ssrc, k == len(chunks) - 1)


def frame4571(packet: bytes) -> bytes:
    return struct.pack(">H", len(packet)) + packet


class Rfc4571Reader:
    """RTP packets out of a TCP byte stream with 2-byte length prefixes."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        out = []
        while len(self.buffer) >= 2:
            n = struct.unpack_from(">H", self.buffer)[0]
            if len(self.buffer) < 2 + n:
                break
            out.append(bytes(self.buffer[2:2 + n]))
            del self.buffer[:2 + n]
        return out


@dataclass
class FrameAssembler:
    """Joins packets of one timestamp into a PS frame; binds to one SSRC.

    With an expected SSRC (the ``y=`` line), other SSRCs are dropped and counted. Without
    one (devices on TCP that send none), the SSRC is learnt from the first packet that
    starts a PS pack, so RTCP or garbage arriving first never binds the wrong one.
    """

    ssrc: int | None = None
    wrong_ssrc: int = 0
    garbage: int = 0
    lost: int = 0
    _ts: int | None = None
    _seq: int | None = None
    _parts: list[bytes] = field(default_factory=list)
    _size: int = 0
    _broken: bool = False

    def push(self, data: bytes) -> list[bytes]:
        pkt = parse_rtp(data)
        if pkt is None:
            self.garbage += 1
            return []
        if self.ssrc is None:
            if not pkt.payload.startswith(PS_START):
                self.garbage += 1
                return []
            self.ssrc = pkt.ssrc
        elif pkt.ssrc != self.ssrc:
            self.wrong_ssrc += 1
            return []
        out: list[bytes] = []
        if self._ts is not None and pkt.ts != self._ts:
            out += self._flush()  # a new timestamp closes the frame whose marker was lost
        if self._seq is not None and (pkt.seq - self._seq) & 0xFFFF != 1:
            self.lost += 1
            self._broken = True  # a hole: this frame is dropped, resync on a pack header
        self._seq, self._ts = pkt.seq, pkt.ts
        self._parts.append(pkt.payload)
        self._size += len(pkt.payload)
        if self._size > 8 * 1024 * 1024:
            self._broken = True
            self._parts, self._size = [], 0
        if pkt.marker:
            out += self._flush()
        return out

    def _flush(self) -> list[bytes]:
        frame = b"".join(self._parts)
        broken = self._broken
        self._parts, self._size, self._ts, self._broken = [], 0, None, False
        if broken or not frame.startswith(PS_START) and not frame.startswith(b"\x00\x00\x01"):
            self.garbage += 1 if frame else 0
            return []
        return [frame]
