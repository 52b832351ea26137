"""Per-packet work of the packet core: RTP header offsets, keyframe starts, continuity.

Everything here works on offsets into the received buffer and touches a few bytes: no
depayloading. A keyframe start is recognised from the first NAL unit header of the payload
(H.264: IDR or SPS, alone, in a STAP-A, or an FU-A start; H.265: IRAP/VPS/SPS, in an AP, or
an FU start), as ZLMediaKit and MediaMTX do for their GOP caches.
"""

from __future__ import annotations

import random
import struct
import time

_SEQ_TS = struct.Struct("!HI")
_SEQ_TS_SSRC = struct.Struct("!HII")
H264_KEY = frozenset({5, 7})  # IDR slice, SPS
H265_KEY = frozenset({16, 17, 18, 19, 20, 21, 32, 33})  # IRAP slices, VPS, SPS


def payload_at(buf: bytearray, rtp: int, end: int) -> int:
    """Offset of the payload of the RTP packet at ``rtp`` (ending at ``end``); -1 if the
    packet is not RTP version 2 or its header overruns it."""
    if end - rtp < 12:
        return -1
    b0 = buf[rtp]
    if b0 >> 6 != 2:
        return -1
    off = rtp + 12 + (b0 & 0x0F) * 4
    if b0 & 0x10:  # header extension: 4 bytes + length words
        if off + 4 > end:
            return -1
        off += 4 + ((buf[off + 2] << 8) | buf[off + 3]) * 4
    if b0 & 0x20 and end > off:  # padding: the last byte says how much
        end -= buf[end - 1]
    return off if off < end else -1


def h264_key(buf: bytearray, p: int, end: int) -> bool:
    """Whether the H.264 payload at ``p`` starts a keyframe (or its parameter sets)."""
    t = buf[p] & 0x1F
    if t in H264_KEY:
        return True
    if t == 28:  # FU-A: start bit and the fragmented NAL's type
        return p + 1 < end and buf[p + 1] & 0x80 != 0 and (buf[p + 1] & 0x1F) in H264_KEY
    if t == 24:  # STAP-A: 16-bit size, NAL; ...
        q = p + 1
        while q + 2 < end:
            if buf[q + 2] & 0x1F in H264_KEY:
                return True
            q += 2 + ((buf[q] << 8) | buf[q + 1])
    return False


def h265_key(buf: bytearray, p: int, end: int) -> bool:
    """Whether the H.265 payload at ``p`` starts a keyframe (or its parameter sets)."""
    if p + 1 >= end:
        return False
    t = (buf[p] >> 1) & 0x3F
    if t in H265_KEY:
        return True
    if t == 49:  # FU: the FU header after the 2-byte payload header
        return p + 2 < end and buf[p + 2] & 0x80 != 0 and (buf[p + 2] & 0x3F) in H265_KEY
    if t == 48:  # AP: 16-bit size, NAL; ...
        q = p + 2
        while q + 2 < end:
            if (buf[q + 2] >> 1) & 0x3F in H265_KEY:
                return True
            q += 2 + ((buf[q] << 8) | buf[q + 1])
    return False


KEY_TESTS = {"h264": h264_key, "h265": h265_key}


class Continuity:
    """Rewrites sequence number, timestamp and SSRC into one timeline per camera, so readers
    stay attached across camera reconnects (a new session's numbers start anywhere)."""

    def __init__(self, clock_rate: int = 90000) -> None:
        self.ssrc = random.getrandbits(32)
        self.clock_rate = clock_rate
        self.seq = random.getrandbits(16)  # last sequence number sent
        self.ts = random.getrandbits(32)  # last timestamp sent
        self._offsets: tuple[int, int] | None = None
        self._last_at = time.monotonic()

    def new_session(self) -> None:
        """The next packet comes from a new upstream session."""
        self._offsets = None

    def timeline(self, ts: int) -> int | None:
        """The readers' timestamp for this session's ``ts``; None before its first packet."""
        return None if self._offsets is None else (ts + self._offsets[1]) & 0xFFFFFFFF

    def rewrite(self, buf: bytearray, rtp: int) -> int:
        """Rewrite the header at ``rtp`` in place; returns the timestamp written."""
        seq, ts = _SEQ_TS.unpack_from(buf, rtp + 2)
        offsets = self._offsets
        if offsets is None:
            gap = max(int((time.monotonic() - self._last_at) * self.clock_rate), 1)
            offsets = self._offsets = (self.seq + 1 - seq, self.ts + gap - ts)
        self.seq = (seq + offsets[0]) & 0xFFFF
        self.ts = (ts + offsets[1]) & 0xFFFFFFFF
        _SEQ_TS_SSRC.pack_into(buf, rtp + 2, self.seq, self.ts, self.ssrc)
        return self.ts

    def mark(self) -> None:
        """Remember when the last packet was sent (once per chunk, not per packet)."""
        self._last_at = time.monotonic()
