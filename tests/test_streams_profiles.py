"""A camera's main and sub streams (#18): each one upstream, pulled on demand; WHEP and fMP4
take ``?profile=sub``, RTSP serves ``/{camera}/sub``; a camera without a sub stream gives
its main stream. Real synthetic cameras (640x360 main, 320x180 sub) and a real relay."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from devkit.fixtures.streams import RELAY_CORES, GstReader
from streams.webrtc.client import WhepClient


@pytest.mark.fault
@RELAY_CORES
def test_main_and_sub_streams_over_whep_and_rtsp(
    camera_factory: Any, relay_factory: Any, loopback_ice: None
) -> None:
    main = camera_factory(["dome"], mode="loop")
    sub = camera_factory(["dome"], mode="loop", width=320, height=180)
    relay = relay_factory({"dome": {"url": main.url("dome"), "sub_url": sub.url("dome")},
                           "plain": main.url("dome")})
    token = relay.token("dome")

    async def whep_size(camera: str, profile: str) -> tuple[int, int] | None:
        client = WhepClient(f"{relay.http}/whep/{camera}?profile={profile}", relay.token(camera))
        await client.start()
        try:
            assert await client.wait_frames(5, 20) >= 5
            return client.size
        finally:
            await client.stop()

    assert asyncio.run(whep_size("dome", "sub")) == (320, 180)
    assert asyncio.run(whep_size("dome", "main")) == (640, 360)
    assert asyncio.run(whep_size("plain", "sub")) == (640, 360)  # no sub stream: the main
    for path, size in (("dome/sub", (320, 180)), ("dome", (640, 360))):
        reader = GstReader(f"rtsp://127.0.0.1:{relay.rtsp_port}/{path}?token={token}").start()
        try:
            assert reader.wait_frames(5) >= 5, reader.errors
            assert reader.size == size, path
        finally:
            reader.stop()
    health = {h["camera_id"] for h in relay.health_all()}
    assert {"dome", "dome~sub", "plain"} <= health
