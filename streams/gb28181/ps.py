"""MPEG-2 program stream (ISO/IEC 13818-1 2.5) as GB/T 28181 carries it: a pack header,
system header and PSM before keyframes, then PES packets. Demultiplexed here without
re-encoding (a few start codes and lengths: faster and more forgiving than a generic
demuxer for the one-frame-per-RTP-timestamp shape the standard mandates), and muxed for
the device simulator and for cascade output."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

#: PSM stream_type -> codec. 0x24 (H.265) and 0x0F (AAC) per the 2022 edition.
STREAM_TYPES = {0x1B: "h264", 0x24: "h265", 0x0F: "aac", 0x90: "pcma", 0x91: "pcmu",
                0x10: "mpeg4", 0x80: "svac", 0x92: "g722", 0x93: "g723", 0x99: "g729"}
VIDEO_CODECS = ("h264", "h265")
PACK, SYSTEM, PSM = 0xBA, 0xBB, 0xBC
MAX_FRAME = 8 * 1024 * 1024


class PsError(ValueError):
    """A frame that is not a readable program stream (the reason says where)."""


@dataclass
class Frame:
    codec: str
    data: bytes
    pts: float | None  #: seconds (90 kHz clock), None when the PES carried none
    keyframe: bool


@dataclass
class PsDemuxer:
    """Turns one RTP frame's PS bytes into the video access unit (audio set aside)."""

    streams: dict[int, str] = field(default_factory=dict)  #: stream_id -> codec, from the PSM
    frames: int = 0
    unsupported: str | None = None  #: last codec seen that the relay cannot pass through

    def feed(self, data: bytes) -> Frame | None:
        if len(data) > MAX_FRAME:
            raise PsError(f"frame of {len(data)} bytes exceeds {MAX_FRAME}")
        video = bytearray()
        pts: float | None = None
        i, n = 0, len(data)
        while i + 4 <= n:
            if data[i:i + 3] != b"\x00\x00\x01":
                j = data.find(b"\x00\x00\x01", i + 1)
                if j < 0:
                    break
                i = j
                continue
            code = data[i + 3]
            if code == PACK:
                i = _skip_pack(data, i)
            elif code == PSM:
                i = self._psm(data, i)
            elif 0xC0 <= code <= 0xEF:
                end, payload, p = _pes(data, i)
                if 0xE0 <= code:
                    video += payload
                    pts = p if pts is None else pts
                i = end
            elif code >= 0xB9:  # system header, padding, private streams: skip by length
                if i + 6 > n:
                    break
                i += 6 + struct.unpack_from(">H", data, i + 4)[0]
            else:  # a start code inside ES bytes we are not in: move on
                i += 3
        if not video:
            return None
        codec = self._video_codec()
        if codec not in VIDEO_CODECS:
            self.unsupported = codec
            raise PsError(f"unsupported video codec in PS: {codec} (passes through H.264/H.265)")
        self.frames += 1
        au = bytes(video)
        return Frame(codec, au, pts, is_keyframe(au, codec))

    def _video_codec(self) -> str:
        for sid, codec in self.streams.items():
            if 0xE0 <= sid <= 0xEF:
                return codec
        return "h264"  # no PSM yet: GB/T 28181-2016's default video (many IPCs omit it)

    def _psm(self, data: bytes, i: int) -> int:
        if i + 6 > len(data):
            raise PsError("truncated PSM")
        length = struct.unpack_from(">H", data, i + 4)[0]
        end = i + 6 + length
        if end > len(data) or length < 10:
            raise PsError("PSM length outside the frame")
        info_len = struct.unpack_from(">H", data, i + 8)[0]
        j = i + 10 + info_len
        map_len = struct.unpack_from(">H", data, j)[0] if j + 2 <= end else 0
        j += 2
        stop = min(j + map_len, end - 4)  # CRC_32 at the end
        streams: dict[int, str] = {}
        while j + 4 <= stop:
            stype, sid, es_len = data[j], data[j + 1], struct.unpack_from(">H", data, j + 2)[0]
            streams[sid] = STREAM_TYPES.get(stype, f"0x{stype:02x}")
            j += 4 + es_len
        if streams:
            self.streams = streams
        return end


def _skip_pack(data: bytes, i: int) -> int:
    if i + 14 > len(data):
        raise PsError("truncated pack header")
    if data[i + 4] >> 6 == 1:  # MPEG-2
        return i + 14 + (data[i + 13] & 0x07)
    return i + 12  # MPEG-1 pack


def _pes(data: bytes, i: int) -> tuple[int, bytes, float | None]:
    if i + 9 > len(data):
        raise PsError("truncated PES header")
    length = struct.unpack_from(">H", data, i + 4)[0]
    end = i + 6 + length if length else _next_start(data, i + 9)
    if end > len(data):
        raise PsError(f"PES of {length} bytes runs past the frame")
    if data[i + 6] >> 6 != 2:  # MPEG-1 PES header: not what GB/T 28181 sends
        raise PsError("PES without an MPEG-2 header")
    header_len = data[i + 8]
    start = i + 9 + header_len
    if start > end:
        raise PsError("PES header longer than the packet")
    pts = None
    if data[i + 7] & 0x80 and header_len >= 5:
        b = data[i + 9:i + 14]
        ticks = (((b[0] >> 1) & 7) << 30) | (b[1] << 22) | ((b[2] >> 1) << 15) | (b[3] << 7) | (
            b[4] >> 1)
        pts = ticks / 90000
    return end, data[start:end], pts


def _next_start(data: bytes, i: int) -> int:
    for code in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xe0", b"\x00\x00\x01\xc0"):
        j = data.find(code, i)
        if j >= 0:
            return j
    return len(data)


def is_keyframe(au: bytes, codec: str) -> bool:
    i = 0
    while (i := au.find(b"\x00\x00\x01", i)) >= 0 and i + 3 < len(au):
        nal = au[i + 3]
        if codec == "h264" and nal & 0x1F == 5:
            return True
        if codec == "h265" and 16 <= (nal >> 1) & 0x3F <= 21:
            return True
        i += 3
    return False


# -- muxing ---------------------------------------------------------------------------

def _ts_bits(prefix: int, ticks: int) -> bytes:
    ticks &= (1 << 33) - 1
    return bytes([(prefix << 4) | (((ticks >> 30) & 7) << 1) | 1,
                  (ticks >> 22) & 0xFF, (((ticks >> 15) & 0x7F) << 1) | 1,
                  (ticks >> 7) & 0xFF, ((ticks & 0x7F) << 1) | 1])


def pack_header(scr: int, mux_rate: int = 6106) -> bytes:
    base = scr & ((1 << 33) - 1)
    b = bytes([0x44 | ((base >> 27) & 0x38) | ((base >> 28) & 0x03),
               (base >> 20) & 0xFF, ((base >> 12) & 0xF8) | 0x04 | ((base >> 13) & 0x03),
               (base >> 5) & 0xFF, ((base << 3) & 0xF8) | 0x04, 0x01])
    return (b"\x00\x00\x01\xba" + b + bytes([(mux_rate >> 14) & 0xFF, (mux_rate >> 6) & 0xFF,
                                              ((mux_rate << 2) & 0xFC) | 0x03, 0xF8]))


def system_header() -> bytes:
    body = bytes([0x80, 0x04, 0xE1, 0x04, 0xE1, 0xFF, 0xE0, 0xE0, 0x80, 0xC0, 0xC0, 0x08])
    return b"\x00\x00\x01\xbb" + struct.pack(">H", len(body)) + body


def psm(video_type: int, audio_type: int | None = None) -> bytes:
    entries = bytes([video_type, 0xE0, 0, 0])
    if audio_type is not None:
        entries += bytes([audio_type, 0xC0, 0, 0])
    body = bytes([0xE0, 0xFF]) + struct.pack(">H", 0) + struct.pack(">H", len(entries)) + entries
    body += b"\x00\x00\x00\x00"  # CRC_32 (devices and demuxers ignore it; so does ours)
    return b"\x00\x00\x01\xbc" + struct.pack(">H", len(body)) + body


def pes(stream_id: int, payload: bytes, pts: int | None) -> bytes:
    """PES packets (split at 65,000 bytes; PTS on the first)."""
    out = bytearray()
    first = True
    for k in range(0, max(len(payload), 1), 65000):
        chunk = payload[k:k + 65000]
        header = _ts_bits(0x2, pts) if first and pts is not None else b""
        flags = 0x80 if header else 0x00
        body = bytes([0x80, flags, len(header)]) + header + chunk
        out += b"\x00\x00\x01" + bytes([stream_id]) + struct.pack(">H", len(body)) + body
        first = False
    return bytes(out)


def mux_frame(au: bytes, codec: str, pts90k: int, keyframe: bool) -> bytes:
    """One video access unit as PS: pack header (+ system header and PSM on keyframes)."""
    stype = {"h264": 0x1B, "h265": 0x24}[codec]
    out = pack_header(pts90k)
    if keyframe:
        out += system_header() + psm(stype)
    return out + pes(0xE0, au, pts90k)
