"""WebRTC viewers get the camera's whole picture, not just frames that advance.

Cameras send several slices per picture and repeat SPS/PPS before each IDR
slice; a relay that cuts such a keyframe in two leaves viewers with a picture
that is flat green above the last slice. The aiortc WHEP client decodes what
the relay sends and the pictures are compared with a direct decode of the camera.
"""

from __future__ import annotations

import asyncio

import pytest

from devkit.fixtures.picture import picture_problems, rtsp_picture
from devkit.fixtures.streams import RELAY_CORES
from streams.webrtc.client import WhepClient


@pytest.mark.parametrize("slices", [4])
@RELAY_CORES
def test_multi_slice_camera_arrives_intact_over_webrtc(
    camera_factory, relay_factory, loopback_ice, slices
) -> None:
    cam = camera_factory(["cam1"], mode="loop", slices=slices)
    relay = relay_factory({"cam1": cam.url("cam1")})
    reference = rtsp_picture(cam.url("cam1"))
    assert picture_problems([reference], reference) == []  # the camera itself is intact

    async def scenario() -> list:
        whep = WhepClient(f"{relay.http}/whep/cam1", relay.token("cam1"))
        await whep.start()
        try:
            samples = []
            # Spread over more than one GOP (1 s): the viewer's first keyframe and the next.
            for _ in range(6):
                await asyncio.sleep(0.3)  # the point: samples spread over time
                picture = whep.picture()
                assert picture is not None, "no decoded frame from the relay"
                samples.append(picture)
            assert whep.frames >= 15
            return samples
        finally:
            await whep.stop()

    samples = asyncio.run(scenario())
    assert picture_problems(samples, reference) == []
