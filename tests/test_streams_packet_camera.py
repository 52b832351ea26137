"""The packet core's camera actor against a real (refusing) socket: its health transitions
and events match the GStreamer core's stream (streams/core/stream.py)."""

from __future__ import annotations

import asyncio
import struct

from core.net import free_port
from devkit.fixtures.wait import until
from streams.config import StreamsConfig
from streams.core.health import StreamEvent
from streams.packet.camera import PacketCamera
from streams.packet.wire import response, split


def test_an_unreachable_camera_fails_without_an_offline_event_and_retries_when_wanted_again(
) -> None:
    """Never online: ``failed`` with the reason, no event (it never went offline); released
    during its backoff it stops waiting (no retry for nobody) and, wanted again, retries
    at once instead of after the backoff."""
    events: list[StreamEvent] = []

    async def scenario() -> None:
        settings = StreamsConfig(backoff_initial_s=30, backoff_max_s=30, connect_timeout_s=2)
        camera = PacketCamera("cam", f"rtsp://127.0.0.1:{free_port()}/cam",
                              lambda: (None, None), settings, on_event=events.append)
        camera.start()
        try:
            release = camera.acquire()
            await until(lambda: camera.state == "failed", 5, "the camera failed")
            assert "unreachable" in (camera.last_error or "")
            release()
            await asyncio.sleep(0.2)  # the point: released, it does not retry meanwhile
            assert camera.state == "failed" and camera.upstream_connects == 1
            camera.acquire()
            await until(lambda: camera.upstream_connects == 2, 3, "a retry at once, not 30 s later")
        finally:
            await camera.close()

    asyncio.run(scenario())
    assert events == []


def test_an_event_handler_that_raises_does_not_stop_the_camera() -> None:
    async def scenario() -> None:
        def broken(_event: StreamEvent) -> None:
            raise RuntimeError("consumer bug")

        camera = PacketCamera("cam", "rtsp://127.0.0.1:9/cam", lambda: (None, None),
                              StreamsConfig(), on_event=broken)
        camera._online = True  # a live camera that now goes idle
        camera._set_state("idle")
        assert camera.state == "idle" and not camera._online

    asyncio.run(scenario())


SDP = (b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=slow\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
       b"a=rtpmap:96 H264/90000\r\na=control:trackID=0\r\n")


async def _slow_camera(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       first_after: float) -> None:
    """An RTSP camera on a real socket that answers at once but sends its first packet
    ``first_after`` seconds after PLAY (an encoder warming up), then 25 a second."""
    buf = bytearray()
    while True:
        buf += await reader.read(4096)
        _frames, msgs, used = split(buf)
        del buf[:used]
        for msg in msgs:
            cseq = msg.header("cseq")
            headers = {"SETUP": {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1",
                                 "Session": "s1"},
                       "DESCRIBE": {"Content-Type": "application/sdp"}}.get(msg.method, {})
            body = SDP if msg.method == "DESCRIBE" else b""
            writer.write(response(200, "OK", cseq, headers, body))
            if msg.method == "PLAY":
                await asyncio.sleep(first_after)  # the point: a camera slow to send
                for seq in range(10_000):
                    packet = struct.pack("!BBHII", 0x80, 0xE0, seq, seq * 3600, 1) + b"\x65\x88"
                    writer.write(b"$\x00" + struct.pack("!H", len(packet)) + packet)
                    await asyncio.sleep(0.04)  # the point: 25 frames a second


def test_a_camera_slow_to_send_its_first_packet_gets_the_connect_timeout() -> None:
    """The first packet may take ``connect_timeout_s`` (as the GStreamer core's first frame);
    ``stall_timeout_s`` applies once packets flow."""

    async def scenario() -> None:
        server = await asyncio.start_server(lambda r, w: _slow_camera(r, w, 1.5),
                                            "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        settings = StreamsConfig(connect_timeout_s=5, stall_timeout_s=0.5)
        camera = PacketCamera("cam", f"rtsp://127.0.0.1:{port}/cam", lambda: (None, None),
                              settings, always_on=True)
        camera.start()
        try:
            await until(lambda: camera.state == "live", 8, lambda: f"live ({camera.last_error})")
            assert camera.upstream_connects == 1
        finally:
            await camera.close()
            server.close()

    asyncio.run(scenario())
