"""Fuzz of the packet core's parsers: malformed RTP and RTSP-interleaved input gives a clean
WireError (the connection is dropped) or is skipped and counted, never anything else."""

from __future__ import annotations

import asyncio
import logging
import struct

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streams.packet.rtp import h264_key, h265_key, payload_at
from streams.packet.sdp import VideoTrack
from streams.packet.track import PacketTrack, Reader
from streams.packet.wire import WireError, split

H264 = VideoTrack("h264", 96, 90000, "", "trackID=0")


class SinkTransport(asyncio.WriteTransport):
    """Pure-logic stand-in for a reader's socket: collects what is written."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()

        self.writes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.data += data
        self.writes += 1

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False


def rtp(seq: int, ts: int, payload: bytes, marker: bool = False, b0: int = 0x80) -> bytes:
    return struct.pack("!BBHII", b0, 96 | (0x80 if marker else 0), seq, ts, 1234) + payload


def frame(channel: int, packet: bytes) -> bytes:
    return b"$" + bytes([channel]) + struct.pack("!H", len(packet)) + packet


rtp_packets = st.builds(
    rtp,
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.binary(max_size=64),
    st.booleans(),
    st.integers(0, 255),
)
rtcp_reports = st.builds(  # sender reports with any length field, cut anywhere
    lambda b0, pt, words, body, cut: (struct.pack("!BBH", b0, pt, words) + body)[:cut],
    st.sampled_from([0x80, 0x81, 0x40, 0xA0]), st.sampled_from([200, 201, 202]),
    st.integers(0, 0xFFFF), st.binary(min_size=0, max_size=60), st.integers(0, 70),
)
chunks = st.lists(
    st.one_of(
        st.builds(frame, st.sampled_from([0, 0, 1, 7]), rtp_packets),
        st.builds(frame, st.just(1), rtcp_reports),
        st.builds(frame, st.integers(0, 255), st.binary(max_size=40)),
        st.binary(max_size=40),
        st.sampled_from([b"RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n",
                         b"RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n",
                         b"OPTIONS * RTSP/1.0\r\nCSeq: x\r\n\r\n", b"$", b"\r\n\r\n",
                         b"PLAY rtsp://h/ RTSP/1.0\r\nno colon\r\n\r\n"]),
    ),
    max_size=12,
)


def feed_all(track: PacketTrack, data: bytes, cut: int) -> None:
    """Feed ``data`` as a camera would (in two reads), through the same parse as upstream."""
    buf = bytearray()
    for part in (data[:cut], data[cut:]):
        buf += part
        frames, _msgs, used = split(buf)
        track.feed(buf, frames)
        del buf[:used]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks, st.integers(0, 400))
def test_malformed_interleaved_input_gives_clean_errors(parts: list[bytes], cut: int) -> None:
    track = PacketTrack("fuzz")
    track.start_session(H264, 0)
    sink = SinkTransport()
    track.play(Reader(sink))
    data = b"".join(parts)
    try:
        feed_all(track, data, min(cut, len(data)))
    except WireError:
        return
    # what was forwarded is whole interleaved frames: valid RTP on channel 0, the relay's
    # own sender reports on channel 1
    frames, msgs, used = split(sink.data)
    assert used == len(sink.data) and not msgs
    for start, end in frames:
        if sink.data[start + 1] == 1:
            assert sink.data[start + 5] == 200 and end - start == 4 + 28 + 16
            continue
        assert sink.data[start + 1] == 0
        assert payload_at(sink.data, start + 4, end) > 0
        assert struct.unpack_from("!I", sink.data, start + 12)[0] == track.continuity.ssrc


@settings(max_examples=400, deadline=None)
@given(st.lists(rtcp_reports, max_size=3), st.binary(max_size=20))
def test_camera_reports_are_read_within_the_frame_or_ignored(reports: list[bytes],
                                                             after: bytes) -> None:
    from streams.packet.rtcp import camera_report

    data = b"".join(reports)
    found = camera_report(bytearray(data + after), 0, len(data))
    assert found is None or (0 <= found[0] < 2**64 and 0 <= found[1] < 2**32)


@settings(max_examples=400, deadline=None)
@given(st.binary(min_size=1, max_size=80), st.integers(0, 90))
def test_keyframe_tests_never_read_past_the_packet(payload: bytes, extra: int) -> None:
    buf = bytearray(payload + b"\xff" * extra)  # bytes after the packet must not matter
    for test in (h264_key, h265_key):
        assert test(buf, 0, len(payload)) in (True, False)


def test_keyframe_starts_are_recognised() -> None:
    sps, idr, p_slice = b"\x67\x42", b"\x65\x88", b"\x41\x9a"
    assert h264_key(bytearray(sps), 0, 2) and h264_key(bytearray(idr), 0, 2)
    assert not h264_key(bytearray(p_slice), 0, 2)
    stap = b"\x18" + struct.pack("!H", 2) + b"\x09\x10" + struct.pack("!H", 2) + sps
    assert h264_key(bytearray(stap), 0, len(stap))
    fu_start, fu_mid = b"\x7c\x85", b"\x7c\x05"
    assert h264_key(bytearray(fu_start), 0, 2) and not h264_key(bytearray(fu_mid), 0, 2)
    h265_idr, h265_fu = b"\x26\x01", b"\x62\x01\x93"  # IDR_W_RADL; FU start of type 19
    assert h265_key(bytearray(h265_idr), 0, 2) and h265_key(bytearray(h265_fu), 0, 3)


def test_a_new_reader_starts_on_the_cached_keyframe_with_continuous_numbers() -> None:
    track = PacketTrack("cam")
    track.start_session(H264, 0)
    gop = [rtp(100, 9000, b"\x67\x42"), rtp(101, 9000, b"\x7c\x85x"),
           rtp(102, 9000, b"\x7c\x45y", True), rtp(103, 12600, b"\x41\x9a", True)]
    feed_all(track, frame(0, rtp(99, 5400, b"\x41\x9a", True))
             + b"".join(frame(0, p) for p in gop), 7)
    sink = SinkTransport()
    track.play(Reader(sink))
    frames = [f for f in split(sink.data)[0] if sink.data[f[0] + 1] == 0]  # RTP, not RTCP
    assert len(frames) == 4  # the delta frame before the keyframe is not sent
    seqs = [struct.unpack_from("!H", sink.data, s + 6)[0] for s, _ in frames]
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(4)]
    assert track.first_packet()[0] == seqs[0]
    writes = sink.writes  # then one write per access unit (at the marker), not per packet
    feed_all(track, b"".join(frame(0, rtp(104 + i, 16200, b"\x7c\x01", i == 3))
                             for i in range(4)), 9)
    assert sink.writes == writes + 1
    assert sum(1 for s, _ in split(sink.data)[0] if sink.data[s + 1] == 0) == 8
    with_split = bytearray(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 2\r\n\r\nhi$")
    frames, msgs, used = split(with_split)
    assert msgs[0].status == 200 and msgs[0].body == b"hi" and used == len(with_split) - 1
    try:
        split(bytearray(b"HELLO world\r\n\r\n"))
    except WireError:
        pass
    else:
        raise AssertionError("garbage accepted")


requests = st.lists(
    st.one_of(
        st.binary(max_size=60),
        st.builds(
            lambda m, u, h: f"{m} {u} RTSP/1.0\r\nCSeq: 1\r\n{h}\r\n".encode(),
            st.sampled_from(["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "PAUSE",
                             "RECORD", "GET_PARAMETER"]),
            st.sampled_from(["rtsp://h/cam", "rtsp://[::1", "rtsp://h/cam/trackID=0?token=ok",
                             "*", "rtsp://h/%ff%fe", "rtsp://h/other?token=a/b", ""]),
            st.sampled_from(["", "Transport: RTP/AVP/TCP;interleaved=abc\r\n",
                             "Transport: RTP/AVP/TCP;interleaved=999-1000\r\n",
                             "Transport: RTP/AVP;unicast;client_port=1-2\r\n",
                             "Authorization: Basic !!!\r\n", "Content-Length: 3\r\n"]),
        ),
        st.builds(frame, st.integers(0, 255), st.binary(max_size=30)),
    ),
    max_size=6,
)


class _Kept(logging.Handler):
    """Keeps the ERROR records of a run."""

    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests)
@example([b"DESCRIBE rtsp://[::1 RTSP/1.0\r\nCSeq: 1\r\n\r\n"])  # once a 500
@example([b"SETUP rtsp://h/cam/trackID=0?token=ok RTSP/1.0\r\nCSeq: 1\r\n"
          b"Transport: RTP/AVP/TCP;interleaved=999-1000\r\n\r\nPLAY rtsp://h/cam RTSP/1.0\r\n"
          b"CSeq: 2\r\n\r\n"])
def test_the_reader_side_answers_or_drops_malformed_requests(parts: list[bytes]) -> None:
    """A real server on a real socket (its camera unreachable): any byte sequence gets
    answers or a closed connection, and the server still answers the next reader."""
    errors: list[logging.LogRecord] = []
    handler = _Kept(errors)
    log = logging.getLogger("streams.packet")
    log.addHandler(handler)
    try:
        asyncio.run(_reader_side(b"".join(parts)))
    finally:
        log.removeHandler(handler)
    assert not errors, [e.getMessage() for e in errors]  # no 500: every case handled


async def _reader_side(data: bytes) -> None:
    from streams.config import StreamsConfig
    from streams.packet.camera import PacketCamera
    from streams.packet.server import PacketRtspServer

    async def refuse(_camera: str, token: str | None) -> bool:
        return token == "ok"

    server = PacketRtspServer("127.0.0.1", 0, refuse, wait_sdp_s=0.05)
    camera = PacketCamera("cam", "rtsp://127.0.0.1:9/cam", lambda: (None, None),
                          StreamsConfig(connect_timeout_s=0.2))
    server.add(camera)
    port = server.port = await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        try:
            await asyncio.wait_for(reader.read(65536), 0.2)
        except TimeoutError:
            pass
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"OPTIONS rtsp://h/cam RTSP/1.0\r\nCSeq: 7\r\n\r\n")
        reply = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert reply.startswith(b"RTSP/1.0 200 OK") and b"CSeq: 7" in reply
        writer.close()
    finally:
        await server.stop()
        await camera.close()


class NullTransport(asyncio.Transport):
    """The camera connection's transport for the upstream parser: records a close."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks, st.lists(st.integers(1, 200), max_size=4))
def test_the_camera_side_ends_the_pull_on_malformed_input_and_raises_nothing(
    parts: list[bytes], cuts: list[int]
) -> None:
    """A camera's byte stream in arbitrary reads: packets fed or skipped, replies matched,
    anything else ends the pull with a reason (the camera is then retried), never raises."""
    from streams.packet.upstream import _Puller

    async def run() -> None:
        track = PacketTrack("fuzz")
        track.start_session(H264, 0)
        puller = _Puller(track)
        transport = NullTransport()
        puller.connection_made(transport)
        puller.playing = True
        data, at = b"".join(parts), 0
        for cut in [*cuts, len(data)]:
            puller.data_received(data[at : at + cut])
            at += cut
        if puller.closed.done():
            assert puller.closed.result().startswith("camera sent malformed RTSP")
            assert transport.closed
        else:
            assert not transport.closed and len(puller.buf) <= len(data)

    asyncio.run(run())
