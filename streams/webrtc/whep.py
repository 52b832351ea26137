"""WHEP sessions: POST an SDP offer -> 201 + answer + Location; DELETE to stop.

Each session is an aiortc RTCPeerConnection sending one PassthroughVideoTrack
and holding a lease on the camera's stream (so an on-demand camera stays
connected while anyone watches). ICE is gathered fully before answering (no
trickle); no STUN server unless configured.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription, sdp
from aiortc.rtcrtpsender import RTCRtpSender

from streams.core.fanout import Fanout
from streams.core.stream import CameraStream, Lease
from streams.webrtc.feed import CameraFeed
from streams.webrtc.passthrough import PassthroughVideoTrack, SharedPackets
from streams.webrtc.sender import without_rate_feedback

log = logging.getLogger(__name__)


class WhepError(Exception):
    """A refused WHEP request; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_offer(offer_sdp: str) -> None:
    """Refuse offers that cannot work, using aiortc's SDP parser (WhepError 400/415)."""
    try:
        parsed = sdp.SessionDescription.parse(offer_sdp)
    except Exception as exc:
        raise WhepError(400, f"bad SDP offer: {exc or type(exc).__name__}") from exc
    video = [m for m in parsed.media if m.kind == "video"]
    if not video:
        raise WhepError(400, "bad SDP offer: no video section")
    if not video[0].dtls or not video[0].ice or not video[0].ice.usernameFragment:
        raise WhepError(400, "bad SDP offer: no ICE credentials or DTLS fingerprint")
    if not any(c.mimeType.lower() == "video/h264" for c in video[0].rtp.codecs):
        raise WhepError(415, "the offer does not accept H.264 (the relay does not re-encode)")


@dataclass
class WhepSession:
    id: str
    camera_id: str
    pc: RTCPeerConnection
    track: PassthroughVideoTrack
    lease: Lease
    subject: str | None
    #: called once the session is gone (access bookkeeping: streams.auth.guard)
    closers: list[Callable[[], None]] = field(default_factory=list)
    #: set once the session is gone (its event stream says so: streams/http/viewers.py)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_close(self, fn: Callable[[], None]) -> None:
        self.closers.append(fn)


class WhepSessions:
    def __init__(self, ice_servers: list[str], max_sessions: int, live_wait_s: float) -> None:
        self.ice_servers = ice_servers
        self.max_sessions = max_sessions
        self.live_wait_s = live_wait_s
        self.sessions: dict[str, WhepSession] = {}
        #: one packetization per frame per camera, for all its viewers
        self.packets: weakref.WeakKeyDictionary[Fanout, SharedPackets] = (
            weakref.WeakKeyDictionary()
        )
        #: one hop to the event loop per frame per camera, for all its viewers
        self.feeds: weakref.WeakKeyDictionary[Fanout, CameraFeed] = weakref.WeakKeyDictionary()

    def _configuration(self) -> RTCConfiguration:
        return RTCConfiguration(iceServers=[RTCIceServer(urls=u) for u in self.ice_servers])

    def count(self, camera_id: str | None = None) -> int:
        return sum(1 for s in self.sessions.values() if camera_id in (None, s.camera_id))

    async def create(
        self, stream: CameraStream, offer_sdp: str, subject: str | None = None
    ) -> WhepSession:
        if len(self.sessions) >= self.max_sessions:
            raise WhepError(503, "too many WebRTC sessions on this relay")
        check_offer(offer_sdp)  # before pulling the camera: a bad offer costs nothing
        lease = stream.acquire("webrtc")
        try:
            if not await stream.wait_live(self.live_wait_s):
                raise WhepError(503, f"camera not available: {stream.last_error or 'no video yet'}")
            if stream.codec != "h264":
                raise WhepError(
                    415,
                    f"camera sends {stream.codec}; WebRTC passthrough needs H.264 "
                    "(play it over RTSP or the fMP4 fallback)",
                )
            pc = RTCPeerConnection(self._configuration())
            shared = self.packets.setdefault(stream.fanout, SharedPackets())
            feed = self.feeds.setdefault(stream.fanout, CameraFeed(stream.fanout))
            track = PassthroughVideoTrack(stream.fanout, shared=shared, feed=feed)
            try:
                await self._negotiate(pc, track, offer_sdp)
            except WhepError:
                track.stop()
                await pc.close()
                raise
        except BaseException:
            lease.release()
            raise
        session = WhepSession(uuid.uuid4().hex, stream.camera_id, pc, track, lease, subject)
        self.sessions[session.id] = session

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.delete(session.id)

        return session

    async def _negotiate(
        self, pc: RTCPeerConnection, track: PassthroughVideoTrack, sdp: str
    ) -> None:
        # The sending transceiver exists before the offer is applied, so the offer's video
        # section binds to it and its codec preference (H.264 only) shapes the answer.
        transceiver = pc.addTransceiver(track, direction="sendonly")
        track.attach(transceiver.sender)
        transceiver.setCodecPreferences(
            [
                c
                for c in RTCRtpSender.getCapabilities("video").codecs
                if c.mimeType.lower() in ("video/h264", "video/rtx")
            ]
        )
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:  # aiortc raises ValueError/OperationError on broken SDP
            if "send parameters" in str(exc):
                raise WhepError(415, "the offer does not accept H.264") from exc
            raise WhepError(400, f"bad SDP offer: {exc or type(exc).__name__}") from exc
        without_rate_feedback(transceiver)
        try:
            answer = await pc.createAnswer()
        except Exception as exc:
            raise WhepError(400, f"cannot answer the offer: {exc or type(exc).__name__}") from exc
        await asyncio.wait_for(pc.setLocalDescription(answer), 15)

    async def delete(self, session_id: str) -> bool:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        session.track.stop()
        session.lease.release()
        session.closed.set()
        for fn in session.closers:
            fn()
        await session.pc.close()
        log.info("whep %s: session %s closed", session.camera_id, session_id[:8])
        return True

    async def close(self) -> None:
        for sid in list(self.sessions):
            await self.delete(sid)
