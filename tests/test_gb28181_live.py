"""Live video from a GB/T 28181 device through the relay, on real sockets: the relay's
gb28181:// source asks the SIP service (HTTP control) to INVITE the channel, receives
PS over RTP (UDP, TCP passive, TCP active), and serves it over RTSP (decoded by GStreamer
and ffprobe) and WebRTC; unwatched -> BYE; a device restart mid-stream recovers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from typing import Any

import gi
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from devkit.fixtures.streams import GstReader
from devkit.fixtures.wait import until, wait_for
from devkit.gb28181_device import DeviceSim, make_channels
from devkit.synthetic import CameraSpec
from devkit.synthetic_clip import encode_clip, read_access_units
from gb28181.service import ServiceSettings, SipService
from gb28181.transport import Peer
from hub.gb28181.control import serve_control
from hub.gb28181.store import PgDirectory, add_device
from streams.webrtc.client import WhepClient
from streams.webrtc.ice import configure_ice_hosts
from tests.test_gb28181_service import BOX, DEV1, DOMAIN, PLATFORM

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

TOKEN = "control-token-for-tests"
Gst.init(None)


class Side:
    """The SIP service and a simulated device on an asyncio loop in a thread."""

    def __init__(self, dsn: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.dsn = dsn
        self.sim: DeviceSim | None = None

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    async def start(self) -> None:
        self.pool: AsyncConnectionPool[Any] = AsyncConnectionPool(self.dsn, min_size=1,
                                                                  max_size=4, open=False)
        await self.pool.open()
        settings = ServiceSettings(PLATFORM, DOMAIN, port=0, keepalive_s=5)
        self.service = SipService(settings, PgDirectory(self.pool, BOX, "Asia/Shanghai"))
        await self.service.start()
        self.server, self.server_task, self.control_port = await serve_control(
            self.service, TOKEN, "127.0.0.1", 0)

    async def device(self, units: list[bytes], codec: str = "h264") -> DeviceSim:
        sim = DeviceSim(DEV1, "secret1", Peer("UDP", "127.0.0.1", self.service.s.port),
                        PLATFORM, DOMAIN, channels=make_channels(DEV1, 1), units=units,
                        codec=codec, fps=25)
        await sim.start()
        assert await sim.register() == 200
        self.sim = sim
        return sim

    async def sessions(self) -> list[tuple[Any, ...]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT call_id, transport, ssrc, ended_at, end_reason"
                                     " FROM gb_sessions ORDER BY started_at")
            return await cur.fetchall()

    async def stop(self) -> None:
        if self.sim is not None:
            await self.sim.close()
        self.server.should_exit = True
        await until(lambda: not self.server.started or self.server_task.done(), 20,
                    "the control server stopped")
        await self.service.close()
        await self.pool.close()

    def close(self) -> None:
        self.call(self.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def side(store_dsn: str) -> Iterator[Side]:
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO departments (id, name) VALUES ('police', 'Police')")
        conn.execute("INSERT INTO sites (id, name, department_id) VALUES ('s1', 'S1', 'police')")
        add_device(conn, BOX, DEV1, "police", "s1", "secret1", keepalive_s=5)
    s = Side(store_dsn)
    s.call(s.start())
    yield s
    s.close()


def clip(codec: str = "h264") -> list[bytes]:
    spec = CameraSpec(name=f"gblive-{codec}", width=640, height=360, fps=25, gop=25, codec=codec)
    return read_access_units(encode_clip(spec), codec)


def source_url(side: Side, channel: str, transport: str) -> str:
    return (f"gb28181://{DEV1}/{channel}?transport={transport}"
            f"&control=http://127.0.0.1:{side.control_port}&token={TOKEN}")


@pytest.mark.parametrize("transport", ["udp", "tcp-passive", "tcp-active"])
def test_live_video_decodes_through_rtsp_and_closes_when_unwatched(
    side: Side, relay_factory: Any, transport: str
) -> None:
    sim = side.call(side.device(clip()))
    channel = sim.channels[0].id
    relay = relay_factory({channel: source_url(side, channel, transport)}, idle_close_s=1)
    assert relay.health(channel)["state"] == "idle"  # on demand: no INVITE yet
    assert side.call(side.sessions()) == []
    reader = GstReader(relay.rtsp_url(channel)).start()
    try:
        assert reader.wait_frames(25, 20) >= 25, reader.errors
        assert reader.size == (640, 360)
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-count_frames",
             "-read_intervals", "%+2", "-show_streams", "-of", "json",
             relay.rtsp_url(channel)], capture_output=True, text=True, timeout=30)
        video = json.loads(probe.stdout)["streams"][0]
        assert video["codec_name"] == "h264" and int(video["nb_read_frames"]) > 10
        sessions = side.call(side.sessions())
        assert len(sessions) == 1 and sessions[0][1] == transport and sessions[0][3] is None
    finally:
        reader.stop()
    assert relay.wait_state(channel, "idle", 15)["state"] == "idle"
    ended = wait_for(lambda: [s for s in side.call(side.sessions()) if s[3] is not None])
    assert ended[0][4] == "relay ended the stream"
    wait_for(lambda: not sim.streams or all(t.done() for t in sim.streams.values()))


def test_webrtc_and_device_restart_mid_stream_recovers(side: Side, relay_factory: Any) -> None:
    configure_ice_hosts(["127.0.0.1"])
    sim = side.call(side.device(clip()))
    channel = sim.channels[0].id
    relay = relay_factory({channel: source_url(side, channel, "udp")}, backoff_initial_s=0.2,
                          backoff_max_s=1)
    reader = GstReader(relay.rtsp_url(channel)).start()

    async def whep_frames(n: int) -> int:
        whep = WhepClient(f"{relay.http}/whep/{channel}", relay.token(channel))
        await whep.start()
        try:
            return await whep.wait_frames(n, 20)
        finally:
            await whep.stop()
    try:
        assert reader.wait_frames(25, 20) >= 25, reader.errors
        assert asyncio.run(whep_frames(20)) >= 20
        # The device reboots: media and SIP state gone; it registers again.
        side.call(sim.close())
        side.sim = None
        assert relay.wait_state(channel, "failed", 20)["state"] != "live"
        side.call(side.device(clip()))
        assert relay.wait_state(channel, "live", 30)["state"] == "live"
        before = reader.frames
        assert reader.wait_frames(before + 25, 30) >= before + 25, reader.errors
        assert len(side.call(side.sessions())) >= 2  # re-INVITEd
    finally:
        reader.stop()
        configure_ice_hosts([])
