"""RTCP sender reports of the packet core (RFC 3550 §6.4.1): what a reader gets on its
interleaved RTCP channel, mapped from the camera's reports or the relay's clock."""

from __future__ import annotations

import struct
import time

from devkit.fixtures.streams import RawReader
from streams.packet.rtcp import NTP_UNIX, camera_report
from streams.packet.track import PacketTrack, Reader
from streams.packet.wire import split
from tests.test_streams_packet_fuzz import H264, SinkTransport, frame, rtp


def sender_reports(frames: list[tuple[int, bytes]], channel: int = 1) -> list[dict]:
    """Every SR a reader got on ``channel``, with the RTP packets it had got before it."""
    out, packets, octets, last_ts = [], 0, 0, None
    for ch, data in frames:
        if ch == channel - 1:
            packets, octets = packets + 1, octets + len(data) - 12
            last_ts = struct.unpack_from("!I", data, 4)[0]
            continue
        assert ch == channel and data[0] >> 6 == 2 and data[1] == 200, data[:8]
        ssrc, hi, lo, ts, count, size = struct.unpack_from("!IIIIII", data, 4)
        assert data[28] >> 6 == 2 and data[29] == 202  # then SDES (a compound packet)
        out.append({"ssrc": ssrc, "unix": hi + lo / 2**32 - NTP_UNIX, "rtp": ts,
                    "packets": count, "octets": size, "got_packets": packets,
                    "got_octets": octets, "got_rtp": last_ts})
    return out


def _frames(data: bytearray) -> list[tuple[int, bytes]]:
    frames, msgs, used = split(data)
    assert not msgs and used == len(data)
    return [(data[s + 1], bytes(data[s + 4 : e])) for s, e in frames]


def test_reports_map_the_timeline_to_the_relay_clock_then_to_the_cameras() -> None:
    track = PacketTrack("cam")
    track.start_session(H264, 0)
    gop = [rtp(100, 9000, b"\x67\x42"), rtp(101, 9000, b"\x65\x88", True),
           rtp(102, 12600, b"\x41\x9a", True)]
    track.feed(bytearray(b"".join(frame(0, p) for p in gop)), [(0, 18), (18, 36), (36, 54)])
    sink = SinkTransport()
    reader = Reader(sink, channel=2)  # a reader that chose interleaved=2-3
    track.play(reader)
    first = sender_reports(_frames(sink.data), channel=3)
    assert len(first) == 1 and track.stats()["report_clock"] == "relay"
    sr = first[0]
    assert sr["ssrc"] == track.continuity.ssrc and abs(sr["unix"] - time.time()) < 1
    assert sr["packets"] == sr["got_packets"] == 3 and sr["octets"] == sr["got_octets"]
    assert abs(sr["rtp"] - track.continuity.ts) < 9000  # the last packet's, within 0.1 s

    # The camera's report: its NTP time 2020-01-01 00:00:00 is its timestamp 12600.
    ntp = (1577836800 + NTP_UNIX) << 32
    report = struct.pack("!BBHIQIII", 0x80, 200, 6, 1234, ntp, 12600, 3, 10)
    data = bytearray(frame(1, report) + frame(0, rtp(103, 16200, b"\x41\x9a", True)))
    assert reader.report_due > time.monotonic() + 4  # the next one in 5 s: now, for the test
    track._report_due = reader.report_due = 0.0
    track.feed(data, [(0, 4 + len(report)), (4 + len(report), len(data))])
    second = sender_reports(_frames(sink.data), channel=3)[1]
    assert track.stats()["report_clock"] == "camera"
    assert abs(second["unix"] - 1577836800) < 1
    mapped = track.continuity.timeline(12600)
    assert mapped is not None and (second["rtp"] - mapped) % 2**32 < 9000
    assert second["packets"] == second["got_packets"] == 4


def test_camera_reports_that_are_malformed_are_ignored() -> None:
    sr = struct.pack("!BBHIQIII", 0x80, 200, 6, 1, 5 << 32, 7, 0, 0)
    rr = struct.pack("!BBHI", 0x80, 201, 1, 1)
    for bad in (b"", b"\x80", sr[:20], b"\x40" + sr[1:], rr, rr[:4] + b"\x00" * 3,
                b"\x80\xc8\xff\xff" + sr[4:]):
        assert camera_report(bytearray(bad), 0, len(bad)) is None
    both = bytearray(rr + sr)  # an RR first, then the SR: found
    assert camera_report(both, 0, len(both)) == (5 << 32, 7)


def test_a_reader_gets_sender_reports_matching_what_it_got(camera_factory, relay_factory
                                                           ) -> None:
    """A bare-socket reader: an SR right after PLAY, then every 5 s, its SSRC that of the
    RTP, counts of what came before it on the same connection, NTP the camera's clock (the
    synthetic camera's is this machine's) and RTP time consistent with the packets'."""
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, core="packet")
    reader = RawReader(relay.rtsp_url("cam1")).play()
    try:
        assert reader.wait_count(2, channel=1, timeout=20) >= 2
        received = time.time()
        reports = sender_reports(reader.frames)
    finally:
        reader.close()
    rtp_ssrc = {struct.unpack_from("!I", p, 8)[0] for ch, p in reader.frames if ch == 0}
    assert rtp_ssrc == {reports[0]["ssrc"]}
    for sr in reports:
        assert sr["packets"] == sr["got_packets"] and sr["octets"] == sr["got_octets"]
        assert abs(sr["unix"] - received) < 12
        if sr["got_rtp"] is not None:  # live: the last packet was captured just before
            assert ((sr["rtp"] - sr["got_rtp"] + 2**31) % 2**32) - 2**31 < 45000, sr
    a, b = reports[0], reports[1]
    wall, media = b["unix"] - a["unix"], ((b["rtp"] - a["rtp"]) % 2**32) / 90000
    assert 3 < wall < 8 and abs(media - wall) < 0.2, (wall, media)
    packet = relay.health("cam1")["packet"]
    assert packet["report_clock"] == "camera" and packet["sender_reports"] >= 2
