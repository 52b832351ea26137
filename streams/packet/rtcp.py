"""RTCP sender reports to readers (RFC 3550 §6.4.1), on each reader's interleaved RTCP channel.

Players map RTP timestamps to wall-clock time with them (A/V sync, latency). The mapping of
the readers' timeline (rewritten by ``rtp.Continuity``) comes from the camera's own sender
reports when it sends them (its capture clock), else from the relay's clock at the first
packet forwarded; between reports it is extrapolated at the track's clock rate on the
monotonic clock, so it never jumps with the relay's wall clock.
"""

from __future__ import annotations

import struct
import time

NTP_UNIX = 2208988800  #: seconds from 1900 (NTP) to 1970 (Unix)
PT_SR, PT_SDES = 200, 202
INTERVAL_S = 5.0  #: between reports to each reader (RFC 3550's minimum); one also at PLAY
_SR = struct.Struct("!BBHIIIIII")
_NTP_RTP = struct.Struct("!QI")
CNAME = b"cityhub"


def camera_report(buf: bytearray, start: int, end: int) -> tuple[int, int] | None:
    """(NTP timestamp, RTP timestamp) of the sender report in the compound RTCP packet at
    ``start``..``end`` of ``buf``; None if it has none or is malformed (never raises)."""
    off = start
    while off + 4 <= end:
        if buf[off] >> 6 != 2:
            return None
        size = (((buf[off + 2] << 8) | buf[off + 3]) + 1) * 4
        if off + size > end:
            return None
        if buf[off + 1] == PT_SR and size >= 28:
            ntp, rtp = _NTP_RTP.unpack_from(buf, off + 8)
            return ntp, rtp
        off += size
    return None


class SenderClock:
    """The wall-clock time (NTP) of the readers' RTP timeline, for sender reports."""

    def __init__(self) -> None:
        #: (unix seconds, RTP timestamp, monotonic time) of one instant of the timeline
        self.anchor: tuple[float, int, float] | None = None
        self.source = ""  # "camera" (its sender reports) or "relay" (its clock)

    def packet(self, ts: int) -> None:
        """A packet with (rewritten) timestamp ``ts`` forwarded now: anchors the relay's
        clock when nothing else has (the camera's reports, once they come, take over)."""
        if self.anchor is None:
            self.anchor, self.source = (time.time(), ts, time.monotonic()), "relay"

    def camera(self, ntp: int, ts: int) -> None:
        """The camera's report: NTP time ``ntp`` is (rewritten) timestamp ``ts``."""
        self.anchor = (ntp / 2**32 - NTP_UNIX, ts, time.monotonic())
        self.source = "camera"

    def now(self, clock_rate: int) -> tuple[int, int] | None:
        """(NTP timestamp, RTP timestamp) of this instant; None before any packet."""
        if self.anchor is None:
            return None
        unix, ts, at = self.anchor
        elapsed = time.monotonic() - at
        ntp = int((unix + elapsed + NTP_UNIX) * 2**32) & 0xFFFFFFFFFFFFFFFF
        return ntp, (ts + round(elapsed * clock_rate)) & 0xFFFFFFFF


def sender_report(ssrc: int, ntp: int, rtp: int, packets: int, octets: int,
                  channel: int) -> bytes:
    """An interleaved frame on ``channel``: SR (no report blocks) + SDES CNAME, as RFC 3550
    §6.1 wants a compound packet to be."""
    sr = _SR.pack(0x80, PT_SR, 6, ssrc, ntp >> 32, ntp & 0xFFFFFFFF, rtp,
                  packets & 0xFFFFFFFF, octets & 0xFFFFFFFF)
    chunk = struct.pack("!IBB", ssrc, 1, len(CNAME)) + CNAME + b"\0"
    chunk += b"\0" * (-len(chunk) % 4)
    sdes = struct.pack("!BBH", 0x81, PT_SDES, len(chunk) // 4) + chunk
    body = sr + sdes
    return b"$" + bytes([channel]) + struct.pack("!H", len(body)) + body
