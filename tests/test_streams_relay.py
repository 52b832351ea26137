"""The relay end to end: real synthetic cameras, a real relay process, real readers.

WebRTC readers run aiortc with ICE restricted to 127.0.0.1 on both sides
(streams.ice_hosts), so no packet leaves loopback.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from devkit.fixtures.streams import GstReader, rtsp_and_whep

CORES = pytest.mark.parametrize("core", ["gstreamer", "packet"])


@pytest.mark.fault
@CORES
def test_one_upstream_for_two_rtsp_and_one_webrtc_reader_and_all_resume_after_camera_restart(
    camera_factory, relay_factory, loopback_ice, core: str
) -> None:
    """Camera drop and reconnect: the same readers go on, one camera connection, and the
    camera's health transitions are emitted once each (streams.relay.Relay.events)."""
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, core=core, backoff_initial_s=0.2,
                          backoff_max_s=1)

    async def scenario() -> None:
        async with rtsp_and_whep(relay) as (readers, whep):
            assert all(r.size == (640, 360) for r in readers)
            assert whep.size == (640, 360)
            assert relay.upstream_connections(cam.port) == 1  # WebRTC too (packet: through it)
            health = relay.health("cam1")
            assert health["upstream_connects"] == 1 and health["webrtc_viewers"] == 1
            assert health["rtsp_viewers"] == 2
            assert health["state"] == "live" and health["fps"] > 5

            cam.kill()
            assert relay.wait_state("cam1", "failed", 15)["state"] == "failed"
            before = [r.frames for r in readers] + [whep.frames]
            cam.start()
            assert relay.wait_state("cam1", "live", 20)["state"] == "live"
            for r, n in zip(readers, before, strict=False):  # the same readers go on
                assert await asyncio.to_thread(r.wait_frames, n + 15, 20) >= n + 15, r.errors
            assert await whep.wait_frames(before[2] + 15, 30) >= before[2] + 15
            assert relay.upstream_connections(cam.port) == 1
            assert await whep.stop() == 200

    asyncio.run(scenario())
    log = relay.log.read_text()
    events = re.findall(r"camera cam1 (online|offline|idle)", log)
    assert events == ["online", "offline", "online"], events
    assert re.search(r"camera cam1 offline: \S", log)  # with the reason


@pytest.mark.fault
@CORES
def test_reader_churn_then_idle_close(camera_factory, relay_factory, core: str) -> None:
    """Viewer churn: readers come and go beside one that stays; it never notices, the
    camera stays one connection, and closes (one idle event) after the last reader."""
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, core=core, idle_close_s=1)
    assert relay.health("cam1")["state"] == "idle"
    holder = GstReader(relay.rtsp_url("cam1")).start()
    try:
        assert holder.wait_frames(5) >= 5, holder.errors
        for _ in range(4):
            churn = [GstReader(relay.rtsp_url("cam1")).start() for _ in range(3)]
            for r in churn:
                assert r.wait_frames(3) >= 3, r.errors
                r.stop()
        n = holder.frames
        assert holder.wait_frames(n + 10) >= n + 10, holder.errors  # the holder never noticed
        health = relay.wait_health("cam1", lambda h: h["rtsp_viewers"] == 1, 10)
        assert health["rtsp_viewers"] == 1 and health["upstream_connects"] == 1
        assert relay.upstream_connections(cam.port) == 1
    finally:
        holder.stop()
    assert relay.wait_state("cam1", "idle", 10)["state"] == "idle"
    assert relay.upstream_connections(cam.port) == 0
    events = re.findall(r"camera cam1 (online|offline|idle)", relay.log.read_text())
    assert events == ["online", "idle"], events


def test_unwatched_camera_disconnects_after_idle_time(camera_factory, relay_factory) -> None:
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, idle_close_s=1)
    assert relay.health("cam1")["state"] == "idle"
    assert relay.upstream_connections(cam.port) == 0
    reader = GstReader(relay.rtsp_url("cam1")).start()
    try:
        assert reader.wait_frames(10) >= 10, reader.errors
        assert relay.upstream_connections(cam.port) == 1
    finally:
        reader.stop()
    time.sleep(0.5)  # the point: the camera stays up for a while inside its idle time
    assert relay.health("cam1")["state"] == "live"  # still inside the idle time
    assert relay.wait_state("cam1", "idle", 10)["state"] == "idle"
    assert relay.upstream_connections(cam.port) == 0
