"""One camera in the packet core: its GOP cache and its readers, fed a chunk at a time.

``feed`` runs once per chunk received from the camera (asyncio, no threads): per packet it
rewrites the header for continuity, checks the first payload byte(s) for a keyframe start and
appends the framed packet to the GOP cache; per reader it makes one transport write. A reader
that cannot keep up (its socket buffer over ``HIGH_WATER``) skips to the next keyframe; one
that stays behind for ``BEHIND_LIMIT_S`` is dropped (both set in the config). Memory per
camera is bounded: the cache holds at most ``CACHE_MAX_BYTES`` (a longer GOP is not cached:
new readers then wait for the next keyframe), each reader at most ``HIGH_WATER`` plus one
access unit in user space and ``SNDBUF`` in the kernel. Readers get RTCP sender reports
(``rtcp.py``) at PLAY and every ``rtcp.INTERVAL_S``; the camera's reports set their clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from streams.packet.rtcp import INTERVAL_S, SenderClock, camera_report, sender_report
from streams.packet.rtp import KEY_TESTS, Continuity, payload_at
from streams.packet.sdp import VideoTrack

log = logging.getLogger(__name__)

CACHE_MAX_BYTES = 4 * 1024 * 1024  #: GOP cache per camera (2 s at 16 Mb/s)
HIGH_WATER = 1024 * 1024  #: a reader's unsent bytes before it skips (packet_reader_backlog_kb)
BEHIND_LIMIT_S = 10.0  #: a reader behind this long is dropped (streams.packet_reader_behind_s)
SNDBUF = 256 * 1024  #: kernel send buffer of a reader's socket (so the backlog is ours to see)
MERGE_MAX = 64  #: packets held for one write at most (a camera that never sets the marker)


@dataclass
class Counters:
    packets: int = 0
    frames: int = 0  # access units (timestamp changes)
    octets: int = 0
    keyframes: int = 0
    bad_packets: int = 0
    reader_skips: int = 0  # GOPs skipped by slow readers
    reader_drops: int = 0  # readers dropped for staying behind
    sender_reports: int = 0  # RTCP SRs sent to readers
    last_packet_at: float | None = None


@dataclass(eq=False)
class Reader:
    """A playing RTSP reader: its transport and interleaved channel."""

    transport: asyncio.WriteTransport
    channel: int = 0
    waiting_key: bool = False  # skips packets until the next keyframe starts
    behind_since: float | None = None
    sent: int = 0  # bytes of RTP (interleaved) written
    packets: int = 0  # RTP packets written (for sender reports)
    report_due: float = 0.0  # monotonic time of its next sender report
    internal: bool = False  # the relay's own loopback reader (GStreamer outputs)
    high_water: int = HIGH_WATER
    behind_s: float = BEHIND_LIMIT_S
    on_drop: Callable[[str], None] | None = field(default=None, repr=False)

    def send(self, blob: bytes, packets: list[bytes], key_at: int, counters: Counters) -> None:
        transport = self.transport
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() > self.high_water:
            now = time.monotonic()
            if not self.waiting_key:
                self.waiting_key, self.behind_since = True, now
                counters.reader_skips += 1
            elif self.behind_since is not None and now - self.behind_since > self.behind_s:
                counters.reader_drops += 1
                log.info("rtsp reader dropped: behind for %gs", self.behind_s)
                if self.on_drop is not None:
                    self.on_drop(f"reader behind for {self.behind_s:g}s")
                transport.abort()  # close() would wait to flush what it cannot send
            return
        count = len(packets)
        if self.waiting_key:
            if key_at < 0:
                return
            self.waiting_key, self.behind_since = False, None
            if key_at:
                blob = b"".join(packets[key_at:])
                count -= key_at
        if self.channel:
            blob = rechannel(blob, self.channel)
        transport.write(blob)
        self.sent += len(blob)
        self.packets += count

    def report(self, ssrc: int, ntp: int, rtp: int) -> bool:
        """A sender report on the reader's RTCP channel (not to one that is behind): what
        it was sent so far (octets: after the 12-byte RTP header)."""
        transport = self.transport
        if transport.is_closing() or transport.get_write_buffer_size() > self.high_water:
            return False
        octets = self.sent - 16 * self.packets  # less the interleaved and RTP headers
        transport.write(sender_report(ssrc, ntp, rtp, self.packets, octets, self.channel + 1))
        return True


def rechannel(blob: bytes, channel: int) -> bytes:
    """Interleaved frames of channel 0 moved to ``channel`` (readers that chose another)."""
    out = bytearray(blob)
    i = 0
    while i + 4 <= len(out):
        out[i + 1] = channel
        i += 4 + ((out[i + 2] << 8) | out[i + 3])
    return bytes(out)


class PacketTrack:
    """The GOP cache and readers of one camera, and the state its upstream reports."""

    def __init__(self, camera_id: str, backlog_bytes: int = HIGH_WATER,
                 behind_s: float = BEHIND_LIMIT_S) -> None:
        self.camera_id = camera_id
        self.backlog_bytes, self.behind_s = backlog_bytes, behind_s
        self.video: VideoTrack | None = None
        self.channel = 0  # the camera's interleaved RTP channel
        self.readers: set[Reader] = set()
        self.counters = Counters()
        self.continuity = Continuity()
        self.clock = SenderClock()
        self._report_due = 0.0  # monotonic time readers' sender reports are next looked at
        self._cache: list[bytes] = []
        self._cache_bytes = 0
        self._cache_ok = False  # the cache starts on a keyframe
        self._key = KEY_TESTS["h264"]
        self._last_ts = -1
        self._au_begin = 0  # cache index where the current access unit began
        self._au_key = False
        self._pending: list[bytes] = []  # packets not yet written to readers
        self._pending_key = -1  # index in _pending where a keyframe's access unit begins
        self._au_pending = 0  # index in _pending where the current access unit began
        self.sdp_ready = asyncio.Event()

    # -- upstream side ---------------------------------------------------------
    def start_session(self, video: VideoTrack, channel: int) -> None:
        """A new upstream session: its track; the cache restarts at its first keyframe."""
        self.video, self.channel = video, channel
        self._key = KEY_TESTS[video.codec]
        self.continuity.clock_rate = video.clock_rate
        self.continuity.new_session()
        self._reset_cache()
        self._pending, self._pending_key, self._au_pending = [], -1, 0
        for reader in self.readers:
            reader.waiting_key = True  # the old session's last GOP may be cut: restart clean
        self.sdp_ready.set()

    def end_session(self) -> None:
        """The upstream session ended. The relay's own loopback readers are closed, so its
        GStreamer outputs see the camera drop as with the GStreamer core (a recording's
        segment ends there: the outage is a gap, not a hole inside one segment); other
        readers stay and go on at the next session's keyframe."""
        self.sdp_ready.clear()
        for reader in [r for r in self.readers if r.internal]:
            self.readers.discard(reader)
            reader.transport.close()

    def _reset_cache(self) -> None:
        self._cache, self._cache_bytes, self._cache_ok = [], 0, False
        self._last_ts, self._au_begin, self._au_key = -1, 0, False

    def feed(self, buf: bytearray, frames: list[tuple[int, int]]) -> None:
        """One received chunk: ``frames`` are (start, end) of interleaved frames in ``buf``.

        Packets go to readers a whole access unit at a time (at the RTP marker bit, or every
        ``MERGE_MAX`` packets): one write per reader per frame, as ZLMediaKit merges writes.
        """
        channel, key, rewrite = self.channel, self._key, self.continuity.rewrite
        cache, pending = self._cache, self._pending
        octets, n0, marker, keyed = 0, len(pending), False, False
        for start, end in frames:
            if buf[start + 1] != channel:  # RTCP (or another track): not forwarded
                if buf[start + 1] == channel + 1:
                    self._camera_rtcp(buf, start + 4, end)
                continue
            rtp = start + 4
            p = payload_at(buf, rtp, end)
            if p < 0:
                self.counters.bad_packets += 1
                continue
            if channel:
                buf[start + 1] = 0
            ts = rewrite(buf, rtp)
            if ts != self._last_ts:  # a new access unit
                self._last_ts, self._au_begin, self._au_key = ts, len(cache), False
                self._au_pending = len(pending)
                self.counters.frames += 1
            if not self._au_key and key(buf, p, end):
                self._au_key, self._cache_ok = True, True
                self.counters.keyframes += 1
                del cache[: self._au_begin]
                self._au_begin, self._pending_key, keyed = 0, self._au_pending, True
            packet = bytes(buf[start:end])
            octets += len(packet)
            cache.append(packet)
            pending.append(packet)
            marker = buf[start + 5] & 0x80 != 0
        if len(pending) == n0:
            return
        self._cache_bytes = sum(map(len, cache)) if keyed else self._cache_bytes + octets
        if self._cache_bytes > CACHE_MAX_BYTES:  # a GOP too long to cache: readers wait instead
            self._reset_cache()
        c = self.counters
        c.packets += len(pending) - n0
        c.octets += octets
        c.last_packet_at = now = time.monotonic()
        self.continuity.mark()
        self.clock.packet(self.continuity.ts)
        if marker or len(pending) >= MERGE_MAX:
            self._flush()
            if now >= self._report_due and self.readers:  # looked at once a second
                self._report_due = now + 1.0
                for reader in tuple(self.readers):
                    if now >= reader.report_due:
                        self._report(reader, now)

    def _flush(self) -> None:
        pending, key_at = self._pending, self._pending_key
        self._pending, self._pending_key, self._au_pending = [], -1, 0
        if self.readers and pending:
            blob = b"".join(pending)
            for reader in tuple(self.readers):
                reader.send(blob, pending, key_at, self.counters)

    def _camera_rtcp(self, buf: bytearray, start: int, end: int) -> None:
        """The camera's RTCP: its sender report maps the timeline to its clock."""
        report = camera_report(buf, start, end)
        if report is None:
            return
        ts = self.continuity.timeline(report[1])
        if ts is not None:  # before the session's first packet its offset is not known
            self.clock.camera(report[0], ts)

    def _report(self, reader: Reader, now: float) -> None:
        """A sender report to ``reader`` (none before the timeline has a clock)."""
        clock = self.clock.now(self.continuity.clock_rate)
        if clock is not None and reader.report(self.continuity.ssrc, *clock):
            reader.report_due = now + INTERVAL_S
            self.counters.sender_reports += 1

    # -- reader side -------------------------------------------------------------
    def first_packet(self) -> tuple[int, int]:
        """(sequence number, timestamp) of the first packet a reader starting now gets."""
        cache = self._cache
        if self._cache_ok and cache:
            first = cache[0]
            return (first[6] << 8) | first[7], int.from_bytes(first[8:12], "big")
        return (self.continuity.seq + 1) & 0xFFFF, self.continuity.ts

    def play(self, reader: Reader) -> None:
        """Start ``reader`` on the cached keyframe (or the next one). Packets not yet
        flushed (the tail of the cache) reach it with everyone else's at the next flush."""
        reader.high_water, reader.behind_s = self.backlog_bytes, self.behind_s
        self.readers.add(reader)
        sent = self._cache[: max(len(self._cache) - len(self._pending), 0)]
        if self._cache_ok and self._pending_key < 0 and sent:
            reader.send(b"".join(sent), sent, 0, self.counters)
        else:  # no cache, or it starts in the unflushed packets: start at the flush
            reader.waiting_key = True
        self._report(reader, time.monotonic())  # for players that wait for one to sync

    def stop(self, reader: Reader) -> None:
        self.readers.discard(reader)

    def viewers(self) -> int:
        return sum(1 for r in self.readers if not r.internal)

    def stats(self) -> dict[str, object]:
        c = self.counters
        return {
            "core": "packet",
            "codec": self.video.codec if self.video else None,
            "rtsp_readers": self.viewers(),
            "packets": c.packets,
            "keyframes": c.keyframes,
            "bad_packets": c.bad_packets,
            "reader_skips": c.reader_skips,
            "reader_drops": c.reader_drops,
            "sender_reports": c.sender_reports,
            "report_clock": self.clock.source or None,
            "gop_cache_packets": len(self._cache),
            "gop_cache_bytes": self._cache_bytes,
        }
