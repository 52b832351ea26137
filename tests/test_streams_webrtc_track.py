"""The passthrough track's pacing logic (pure logic on a real Fanout, no network)."""

from __future__ import annotations

import asyncio

from devkit.fixtures.wait import until
from streams.core.fanout import Fanout
from streams.core.media import AccessUnit
from streams.webrtc.passthrough import PassthroughVideoTrack


def unit(pts: float, keyframe: bool) -> AccessUnit:
    return AccessUnit(
        b"\x00\x00\x00\x01\x65" if keyframe else b"\x00\x00\x00\x01\x41", pts, keyframe, "h264"
    )


def test_viewer_starts_on_a_keyframe_even_without_a_cached_gop() -> None:
    async def scenario() -> tuple[list[tuple[int | None, bytes]], int]:
        fanout = Fanout(prebuffer_s=0)
        track = PassthroughVideoTrack(fanout)
        first = asyncio.ensure_future(track.recv())  # subscribes; nothing cached yet
        await until(lambda: fanout.consumer_count == 1, 2, "the track subscribed", step=0)
        fanout.publish(unit(0.0, False))  # a P-frame arriving before any keyframe
        fanout.publish(unit(0.1, True))
        fanout.publish(unit(0.2, False))
        packets = [await asyncio.wait_for(first, 2), await asyncio.wait_for(track.recv(), 2)]
        track.stop()
        return [(p.pts, bytes(p)) for p in packets], track.dropped

    packets, dropped = asyncio.run(scenario())
    assert packets == [(9000, b"\x00\x00\x00\x01\x65"), (18000, b"\x00\x00\x00\x01\x41")]
    assert dropped == 1
