"""The passthrough track's pacing logic (pure logic on a real Fanout, no network)."""

from __future__ import annotations

import asyncio

import av
from aiortc.codecs.h264 import H264Encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from devkit.fixtures.wait import until
from streams.core.fanout import Fanout
from streams.core.media import AccessUnit
from streams.webrtc.passthrough import CLOCK, TIME_BASE, PassthroughVideoTrack, SharedPackets

VP = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=102)


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


def aiortc_pack(au: AccessUnit) -> tuple[list[bytes], int]:
    """What aiortc's sender makes of the ``av.Packet`` that ``recv()`` returns."""
    packet = av.Packet(au.data)
    packet.pts, packet.time_base = int(au.pts * CLOCK), TIME_BASE
    return H264Encoder().pack(packet)


def test_viewers_of_a_camera_share_one_packetization_per_frame() -> None:
    sps, idr = b"\x00\x00\x00\x01\x67\x42\x00\x1f", b"\x00\x00\x00\x01\x65"
    big = AccessUnit(sps + idr + bytes(range(256)) * 20, 0.5, True, "h264")  # > 1 RTP payload
    small = unit(0.54, False)

    async def scenario() -> tuple[list[list[tuple[list[bytes], int]]], int]:
        fanout = Fanout(prebuffer_s=0)
        shared = SharedPackets()
        tracks = [PassthroughVideoTrack(fanout, shared=shared) for _ in range(3)]
        first = [asyncio.ensure_future(t.encoded_frame(VP)) for t in tracks]
        await until(lambda: fanout.consumer_count == 3, 2, "every track subscribed", step=0)
        fanout.publish(big)
        fanout.publish(small)
        frames = [
            [await asyncio.wait_for(f, 2), await asyncio.wait_for(t.encoded_frame(VP), 2)]
            for t, f in zip(tracks, first, strict=True)
        ]
        for t in tracks:
            t.stop()
        return [[(f.payloads, f.timestamp) for f in fs] for fs in frames], shared.made

    frames, made = asyncio.run(scenario())
    expected = [aiortc_pack(big), aiortc_pack(small)]
    assert len(expected[0][0]) > 2  # STAP-A'd parameter set, then FU-A fragments
    assert frames == [expected] * 3
    assert made == 2  # once per frame, not per viewer
