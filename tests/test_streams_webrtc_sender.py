"""The relay's own RTP send loop (streams.webrtc.sender) between real aiortc peers on loopback.

The relay side is a WHEP session's peer connection as ``WhepSessions`` negotiates it; the
viewer is an aiortc peer whose receiver records every RTP packet it is handed (after SRTP).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtpPacket,
)

from devkit.fixtures.wait import until
from streams.core.fanout import Fanout
from streams.core.media import AccessUnit
from streams.webrtc import sender as send_loop
from streams.webrtc.passthrough import PassthroughVideoTrack, SharedPackets
from streams.webrtc.whep import WhepSessions

pytestmark = pytest.mark.usefixtures("loopback_ice")

SPS, IDR, P = b"\x00\x00\x00\x01\x67\x42\x00\x1f", b"\x00\x00\x00\x01\x65", b"\x00\x00\x00\x01\x41"


def unit(n: int) -> AccessUnit:
    """Frame ``n`` of a 25 fps camera: a keyframe of several RTP payloads every 25th."""
    if n % 25 == 0:
        return AccessUnit(SPS + IDR + bytes(range(256)) * 20 + bytes([n % 256]), n / 25, True,
                          "h264")
    return AccessUnit(P + bytes([n % 256]) * 300, n / 25, False, "h264")


@dataclass
class Viewer:
    pc: RTCPeerConnection
    relay_pc: RTCPeerConnection
    track: PassthroughVideoTrack
    got: list[RtpPacket] = field(default_factory=list)

    @property
    def sender(self) -> RTCRtpSender:
        return self.relay_pc.getSenders()[0]

    @property
    def receiver(self) -> RTCRtpReceiver:
        return self.pc.getReceivers()[0]

    def media(self) -> list[RtpPacket]:
        return [p for p in self.got if p.ssrc == self.sender._ssrc]

    async def rtcp(self, packet: AnyRtcpPacket) -> None:
        await self.receiver._send_rtcp(packet)


async def connect(fanout: Fanout, shared: SharedPackets) -> Viewer:
    """A viewer of ``fanout`` negotiated as a WHEP session is, recording what it receives."""
    pc, relay_pc = RTCPeerConnection(), RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    track = PassthroughVideoTrack(fanout, shared=shared)
    await WhepSessions([], 8, 5)._negotiate(relay_pc, track, pc.localDescription.sdp)
    viewer = Viewer(pc, relay_pc, track)
    handle = viewer.receiver._handle_rtp_packet

    async def record(packet: RtpPacket, arrival_time_ms: int) -> None:
        viewer.got.append(packet)
        await handle(packet, arrival_time_ms=arrival_time_ms)

    viewer.receiver._handle_rtp_packet = record  # type: ignore[method-assign]  # the viewer's tap
    await pc.setRemoteDescription(relay_pc.localDescription)
    return viewer


@asynccontextmanager
async def camera(fanout: Fanout) -> AsyncIterator[list[AccessUnit]]:
    """Publishes frames at 25 fps while inside; yields the frames published so far."""
    sent: list[AccessUnit] = []

    async def run() -> None:
        while True:
            sent.append(unit(len(sent)))
            fanout.publish(sent[-1])
            await asyncio.sleep(0.04)  # the camera's frame interval

    task = asyncio.create_task(run())
    try:
        yield sent
    finally:
        task.cancel()


def frames_of(packets: list[RtpPacket]) -> list[list[RtpPacket]]:
    """Packets cut into frames at the marker bit."""
    frames: list[list[RtpPacket]] = [[]]
    for p in packets:
        frames[-1].append(p)
        if p.marker:
            frames.append([])
    return frames[:-1]


async def sent_counts(sender: RTCRtpSender) -> tuple[int, int]:
    """(packets, octets) as the sender's reports (RTCP SR, getStats) give them."""
    stats = [s for s in (await sender.getStats()).values() if s.type == "outbound-rtp"][0]
    return stats.packetsSent, stats.bytesSent


def test_packets_are_what_aiortc_would_send_and_nacks_are_answered() -> None:
    async def scenario() -> None:
        fanout, shared = Fanout(prebuffer_s=0), SharedPackets()
        viewer = await connect(fanout, shared)
        assert viewer.track.frames is not None  # the relay's loop, not aiortc's
        async with camera(fanout) as sent:
            await until(lambda: len(frames_of(viewer.media())) >= 30, 20, "30 frames", step=0.02)
            lost = viewer.media()[3]
            nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=viewer.sender._ssrc,
                                   lost=[lost.sequence_number])
            await viewer.rtcp(nack)
            rtx = await until(lambda: [p for p in viewer.got if p.ssrc == viewer.sender._rtx_ssrc],
                              5, "the retransmission", step=0.02)
        media = viewer.media()
        await until(lambda: sent_counts(viewer.sender), 5, "the last packets", step=0.02)
        assert await sent_counts(viewer.sender) == (len(media), sum(len(p.payload) for p in media))
        assert rtx[0].payload == lost.sequence_number.to_bytes(2, "big") + lost.payload
        assert rtx[0].sequence_number != lost.sequence_number  # RTX numbers its own packets

        frames = frames_of(media)
        made = [shared.payloads(au) for au in sent]
        start = made.index([p.payload for p in frames[0]])
        assert sent[start].keyframe
        assert [[p.payload for p in f] for f in frames] == made[start : start + len(frames)]
        ts0, clock0 = frames[0][0].timestamp, int(sent[start].pts * 90000)
        for k, frame in enumerate(frames):
            assert {(p.timestamp - ts0) & 0xFFFFFFFF for p in frame} == {
                int(sent[start + k].pts * 90000) - clock0
            }
            assert [p.marker for p in frame] == [0] * (len(frame) - 1) + [1]
        seqs = [p.sequence_number for p in media]
        assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(len(seqs))]
        assert len({p.payload_type for p in media}) == 1
        assert {p.extensions.mid for p in media} == {viewer.pc.getTransceivers()[0].mid}
        assert all(p.extensions.abs_send_time is None for p in media)  # not negotiated
        await viewer.pc.close()
        await viewer.relay_pc.close()

    asyncio.run(scenario())


def test_the_answer_asks_for_nack_and_pli_but_no_bandwidth_estimation_feedback() -> None:
    async def scenario() -> str:
        viewer = await connect(Fanout(prebuffer_s=0), SharedPackets())
        answer = viewer.relay_pc.localDescription.sdp
        await viewer.pc.close()
        await viewer.relay_pc.close()
        return answer

    answer = asyncio.run(scenario())
    assert "a=rtcp-fb:" in answer and "nack pli" in answer and " nack\r\n" in answer
    assert "goog-remb" not in answer and "abs-send-time" not in answer
    assert "urn:ietf:params:rtp-hdrext:sdes:mid" in answer  # BUNDLE still finds the stream


def hostile_rtcp(viewer: Viewer) -> list[AnyRtcpPacket]:
    """Feedback a broken or malicious viewer may send about the relay's stream."""
    ssrc, rnd = viewer.sender._ssrc, random.Random(22)
    never_sent = sorted({rnd.randrange(65536) for _ in range(200)})
    remb = b"REMB\x01\xff\xff\xff"  # one SSRC, the highest bitrate
    report = RtcpReceiverInfo(ssrc=ssrc, fraction_lost=255, packets_lost=-1, highest_sequence=0,
                              jitter=2**32 - 1, lsr=0, dlsr=2**32 - 1)
    return [
        RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=ssrc, lost=never_sent),
        RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=ssrc, lost=list(range(1000))),
        RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=ssrc),
        RtcpPsfbPacket(fmt=RTCP_PSFB_FIR, ssrc=1, media_ssrc=ssrc, fci=b"\xff" * 8),
        RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=remb[:4] + b"\x01\0\0\0"),
        RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=remb + ssrc.to_bytes(4, "big")),
        RtcpRrPacket(ssrc=1, reports=[report]),
    ]


def test_hostile_feedback_and_a_viewer_leaving_mid_stream_leave_the_others_playing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        fanout, shared = Fanout(prebuffer_s=0), SharedPackets()
        hostile, calm = await connect(fanout, shared), await connect(fanout, shared)
        async with camera(fanout):
            await until(lambda: len(hostile.media()) > 50 and len(calm.media()) > 50, 20,
                        "both viewers play", step=0.02)
            for packet in hostile_rtcp(hostile):
                await hostile.rtcp(packet)
            await hostile.receiver.transport._send_rtp(b"\x80\xc9" + bytes(62))  # not RTCP
            await until(lambda: len(frames_of(hostile.media())) >= 40, 20, "more frames",
                        step=0.02)
            await hostile.pc.close()  # in the middle of the stream
            await until(lambda: fanout.consumer_count == 1, 10, "the leaver unsubscribed")
            before = len(frames_of(calm.media()))
            await until(lambda: len(frames_of(calm.media())) >= before + 25, 10,
                        "the other viewer still playing", step=0.02)
        assert calm.relay_pc.connectionState == "connected"
        await calm.pc.close()
        for pc in (hostile.relay_pc, calm.relay_pc):
            await pc.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    relay_side = ("aiortc", "streams", "asyncio")  # the viewers' receivers fail to decode
    assert [r.getMessage() for r in caplog.records
            if r.name.startswith(relay_side) and r.name != "aiortc.rtcrtpreceiver"] == []


def test_an_aiortc_without_the_fields_used_keeps_its_own_send_loop(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(send_loop, "FIELDS", (*send_loop.FIELDS, "field_of_another_version"))

    async def scenario() -> tuple[PassthroughVideoTrack, int]:
        fanout = Fanout(prebuffer_s=0)
        viewer = await connect(fanout, SharedPackets())
        async with camera(fanout):
            await until(lambda: len(frames_of(viewer.media())) >= 10, 20, "frames", step=0.02)
        await viewer.pc.close()
        await viewer.relay_pc.close()
        return viewer.track, len(viewer.media())

    track, packets = asyncio.run(scenario())
    assert track.frames is None and packets > 0
    assert "aiortc's own loop" in caplog.text
