"""An aiortc video track that sends the camera's H.264 as-is.

aiortc's RTCRtpSender packs an ``av.Packet`` returned by ``recv()`` without
encoding it (H264Encoder.pack), so the relay spends no CPU on video coding.
The track subscribes to the fan-out when the sender first asks for media
(DTLS is up by then), so the viewer starts on the cached GOP's keyframe; it
never sends a picture before its first keyframe (a decoder given P-frames
first shows garbage or green until the next keyframe).
"""

from __future__ import annotations

import asyncio
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from streams.core.fanout import Fanout
from streams.core.media import AccessUnit

CLOCK = 90_000
TIME_BASE = Fraction(1, CLOCK)


class PassthroughVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, fanout: Fanout, queue_max: int = 120) -> None:
        super().__init__()
        self.fanout = fanout
        self.queue: asyncio.Queue[AccessUnit] = asyncio.Queue(queue_max)
        self._owner_loop = asyncio.get_running_loop()
        self._cid: int | None = None
        self._need_keyframe = True  # until the first keyframe, and after a drop
        self.sent = 0
        self.dropped = 0
        self.first_sent_at: float | None = None

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

    def _consume(self, au: AccessUnit) -> None:  # on a GStreamer thread
        if au.codec == "h264":
            self._owner_loop.call_soon_threadsafe(self._offer, au)

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if self._cid is None:
            self._cid = self.fanout.subscribe(self._consume)
        au = await self.queue.get()
        packet = av.Packet(au.data)
        packet.pts = int(au.pts * CLOCK)
        packet.time_base = TIME_BASE
        self.sent += 1
        if self.first_sent_at is None:
            self.first_sent_at = self._owner_loop.time()
        return packet

    def stop(self) -> None:
        if self._cid is not None:
            self.fanout.unsubscribe(self._cid)
            self._cid = None
        super().stop()
