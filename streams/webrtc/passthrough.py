"""An aiortc video track that sends the camera's H.264 as-is.

aiortc's RTCRtpSender packs an ``av.Packet`` returned by ``recv()`` without
encoding it (H264Encoder.pack), so the relay spends no CPU on video coding.
The track joins the camera's feed (``CameraFeed``: one hop to the event loop per frame for
all viewers) when the sender first asks for media
(DTLS is up by then), so the viewer starts on the cached GOP's keyframe; it
never sends a picture before its first keyframe (a decoder given P-frames
first shows garbage or green until the next keyframe).

Each frame is split into RTP payloads once for all viewers of a camera
(``SharedPackets``, with aiortc's own H.264 packetizer): the sender of a
viewer then only stamps the headers, SRTP-protects and sends
(``streams.webrtc.sender``, one wake-up per frame).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from fractions import Fraction

import av
from aiortc.codecs.h264 import H264Encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import RTCEncodedFrame, RTCRtpSender

from streams.core.fanout import Fanout
from streams.core.media import AccessUnit
from streams.webrtc.feed import CameraFeed
from streams.webrtc.sender import FrameSender, take_over

CLOCK = 90_000
TIME_BASE = Fraction(1, CLOCK)

log = logging.getLogger(__name__)


class SharedPackets:
    """RTP payloads of a camera's recent access units, made once for all its viewers.

    Viewers in step ask for the same ``AccessUnit`` object within a few frames;
    one that lags further (or replays a GOP cache) just packetizes again.
    Used on the event loop only.
    """

    def __init__(self, keep: int = 32) -> None:
        self.keep = keep
        self._recent: OrderedDict[int, tuple[AccessUnit, list[bytes]]] = OrderedDict()
        self.made = 0  #: packetizations done (the rest were shared)

    def payloads(self, au: AccessUnit) -> list[bytes]:
        hit = self._recent.get(id(au))
        if hit is not None and hit[0] is au:  # the reference held keeps id(au) unique
            return hit[1]
        payloads = H264Encoder._packetize(H264Encoder._split_bitstream(au.data))
        self.made += 1
        self._recent[id(au)] = (au, payloads)
        if len(self._recent) > self.keep:
            self._recent.popitem(last=False)
        return payloads


class PassthroughVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(
        self,
        fanout: Fanout,
        queue_max: int = 120,
        shared: SharedPackets | None = None,
        feed: CameraFeed | None = None,
    ) -> None:
        super().__init__()
        self.fanout = fanout
        self.shared = shared or SharedPackets()
        self.feed = feed or CameraFeed(fanout)
        self.queue: asyncio.Queue[AccessUnit] = asyncio.Queue(queue_max)
        self._owner_loop = asyncio.get_running_loop()
        self._cid: int | None = None
        self._need_keyframe = True  # until the first keyframe, and after a drop
        self.sent = 0
        self.dropped = 0
        self.first_sent_at: float | None = None
        self.frames: FrameSender | None = None  #: the send loop, once attached

    def _offer(self, au: AccessUnit) -> None:  # on the event loop
        if self._need_keyframe and not au.keyframe:
            self.dropped += 1
            return
        try:
            self.queue.put_nowait(au)
            self._need_keyframe = False
        except asyncio.QueueFull:  # slow viewer: skip to the next keyframe, never block
            self.dropped += 1
            self._need_keyframe = True

    async def _next_unit(self) -> AccessUnit:
        if self.readyState != "live":
            raise MediaStreamError
        if self._cid is None:
            self._cid = self.feed.join(self._offer)
        au = await self.queue.get()
        self.sent += 1
        if self.first_sent_at is None:
            self.first_sent_at = self._owner_loop.time()
        return au

    async def recv(self) -> av.Packet:
        au = await self._next_unit()
        packet = av.Packet(au.data)
        packet.pts = int(au.pts * CLOCK)
        packet.time_base = TIME_BASE
        return packet

    async def encoded_frame(self, codec: RTCRtpCodecParameters) -> RTCEncodedFrame:
        """The next frame as RTP payloads (shared with the camera's other viewers)."""
        au = await self._next_unit()
        # audio_level None, as aiortc's own sender gives for video (its annotation says int)
        return RTCEncodedFrame(self.shared.payloads(au), int(au.pts * CLOCK), None)  # type: ignore[arg-type]  # aiortc types audio_level int but video frames pass None, as its own video path does

    def attach(self, sender: RTCRtpSender) -> None:
        """Have ``sender`` take this track's shared payloads instead of packing each frame
        itself, and send them with the relay's own loop (``streams.webrtc.sender``); aiortc's
        sender calls ``_next_encoded_frame`` once per frame where that loop cannot run."""
        if not callable(getattr(sender, "_next_encoded_frame", None)):
            log.warning("aiortc's sender has no _next_encoded_frame: each viewer packs alone")
            return  # another aiortc: its own loop still works, only unshared
        setattr(sender, "_next_encoded_frame", self.encoded_frame)  # noqa: B010
        self.frames = take_over(sender, self.encoded_frame)

    def stop(self) -> None:
        if self._cid is not None:
            self.feed.leave(self._cid)
            self._cid = None
        super().stop()
