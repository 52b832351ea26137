"""ISO BMFF framing for the fMP4 fallback: split a byte stream into top-level boxes,
and name the codec for MSE (``MediaSource.isTypeSupported``) from the init segment.

GStreamer's mp4mux writes the boxes; this only reads their 8-byte headers and the
few bytes of ``avcC``/``hvcC`` that RFC 6381 codec strings are made of.
"""

from __future__ import annotations

import struct


class BoxError(ValueError):
    """Bytes that are not ISO BMFF boxes."""


class BoxSplitter:
    """Feed bytes in any chunking; get back whole top-level boxes as (type, bytes)."""

    def __init__(self, max_box: int = 64 * 1024 * 1024) -> None:
        self._buf = bytearray()
        self.max_box = max_box

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        self._buf += data
        out: list[tuple[str, bytes]] = []
        while len(self._buf) >= 8:
            size, kind = struct.unpack_from(">I4s", self._buf)
            header = 8
            if size == 1:  # 64-bit largesize
                if len(self._buf) < 16:
                    break
                size = struct.unpack_from(">Q", self._buf, 8)[0]
                header = 16
            if size < header or size > self.max_box:
                raise BoxError(f"bad box size {size} for {kind!r}")
            if len(self._buf) < size:
                break
            out.append((kind.decode("latin-1"), bytes(self._buf[:size])))
            del self._buf[:size]
        return out


def _payload_after(data: bytes, fourcc: bytes) -> bytes:
    at = data.find(fourcc)
    if at < 4:
        raise BoxError(f"no {fourcc.decode()} box in the init segment")
    size = struct.unpack_from(">I", data, at - 4)[0]
    return data[at + 4 : at - 4 + size]


def codec_string(init: bytes) -> str:
    """RFC 6381 ``codecs`` value of the video track in an init segment (avc1 or hvc1)."""
    if b"avcC" in init:
        c = _payload_after(init, b"avcC")
        if len(c) < 4:
            raise BoxError("avcC too short")
        return f"avc1.{c[1]:02x}{c[2]:02x}{c[3]:02x}"
    if b"hvcC" in init:
        c = _payload_after(init, b"hvcC")
        if len(c) < 13:
            raise BoxError("hvcC too short")
        space = "" if c[1] >> 6 == 0 else "ABC"[(c[1] >> 6) - 1]
        tier = "H" if c[1] & 0x20 else "L"
        compat = int.from_bytes(c[2:6], "big")
        compat_rev = int(f"{compat:032b}"[::-1], 2)  # ISO/IEC 14496-15 E.3: bits reversed
        constraints = list(c[6:12])
        while constraints and constraints[-1] == 0:
            constraints.pop()
        parts = [f"hvc1.{space}{c[1] & 0x1F}", f"{compat_rev:x}", f"{tier}{c[12]}"]
        parts += [f"{b:x}" for b in constraints]
        return ".".join(parts)
    raise BoxError("init segment has neither avcC nor hvcC")
