"""A camera's main and sub streams (#18): each one upstream, pulled on demand; WHEP and fMP4
take ``?profile=sub``, RTSP serves ``/{camera}/sub``; a camera without a sub stream gives
its main stream. Real synthetic cameras (640x360 main, 320x180 sub) and a real relay."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from devkit.fixtures.streams import RELAY_CORES, GstReader, whep_size


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

    def size(camera: str, profile: str) -> tuple[int, int] | None:
        url = f"{relay.http}/whep/{camera}?profile={profile}"
        return asyncio.run(whep_size(url, relay.token(camera)))

    assert size("dome", "sub") == (320, 180)
    assert size("dome", "main") == (640, 360)
    assert size("plain", "sub") == (640, 360)  # no sub stream: the main
    for path, wanted in (("dome/sub", (320, 180)), ("dome", (640, 360))):
        reader = GstReader(f"rtsp://127.0.0.1:{relay.rtsp_port}/{path}?token={token}").start()
        try:
            assert reader.wait_frames(5) >= 5, reader.errors
            assert reader.size == wanted, path
        finally:
            reader.stop()
    health = {h["camera_id"] for h in relay.health_all()}
    assert {"dome", "dome~sub", "plain"} <= health
