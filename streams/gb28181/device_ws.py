"""A GB/T 28181 channel's recording kept on its device (NVR), to a browser: fMP4 over a
WebSocket, ``ws://relay/playback/<camera>/device?token=&start=<unix s>&end=<unix s>``
(token with ``playback``; ``[start, end]`` within its window).

The protocol is the relay's own playback's (streams/playback/session.py): ``play``
``{at, speed}`` starts a timeline (JSON ``init``, init segment, ``moof+mdat`` per frame),
``pause``, ``resume``; at the end of the recording ``{"type": "end"}``. What the browser
asks goes to the device as MANSRTSP in the call (``DeviceRecording``): a seek is ``PLAY
Range: npt=<s>-`` (seconds from the INVITE's start; before it, a new INVITE from there),
a speed ``PLAY Scale``, pause ``PAUSE``, resume ``PLAY``. The device paces its recording:
timestamps follow arrival (pauses left out), as the RTSP path's do (device_playback.py),
and are recorded instants ``start + media time * speed`` for the timeline's pacer, which
then sends at once."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from functools import partial
from typing import Any

from fastapi import WebSocket

from streams.core.media import AccessUnit
from streams.gb28181.device_playback import FIRST_FRAME_S
from streams.gb28181.device_session import Channel, DeviceRecording
from streams.gb28181.ps import Frame
from streams.playback.session import Timeline, WsPlayback

log = logging.getLogger(__name__)
FRAME_S = 0.04  #: media time between the last frame before a pause and the first after


class _Route:
    """Where a device's frames go: the current timeline's queue, stamped by arrival."""

    def __init__(self, loop: asyncio.AbstractEventLoop, start: float, speed: float) -> None:
        self.loop, self.start, self.speed = loop, start, speed
        self.queue: asyncio.Queue[AccessUnit | None] = asyncio.Queue()
        self._await_key = True  #: frames from the first keyframe on
        self._t0 = -1.0
        self._base = self._last = 0.0

    def put(self, frame: Frame) -> None:
        """A frame (receiver thread)."""
        if self._await_key and not frame.keyframe:
            return
        self._await_key = False
        now = time.monotonic()
        if self._t0 < 0:
            self._t0 = now
        self._last = self._base + (now - self._t0)
        au = AccessUnit(frame.data, self.start + self._last * self.speed, frame.keyframe,
                        frame.codec)
        self.loop.call_soon_threadsafe(self.queue.put_nowait, au)

    def resumed(self) -> None:
        """The device plays again: media time goes on from where it stopped."""
        self._base, self._t0 = self._last + FRAME_S, -1.0

    def end(self) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, None)


class DeviceWsPlayback(WsPlayback):
    def __init__(self, channel: Channel, ws: WebSocket, window: tuple[float, float]) -> None:
        super().__init__(ws, "h264", window)
        self.channel = channel
        self.rec: DeviceRecording | None = None
        self.scale = 1.0  #: the device's speed
        self._route: _Route | None = None
        self._lock = threading.Lock()  #: the route, against the receiver thread
        self._commands = asyncio.Lock()  #: MANSRTSP reaches the device in order

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            if self.rec is not None:
                self.rec.stop()  # BYE

    async def _command(self, cmd: dict[str, Any]) -> None:
        kind = cmd.get("type")
        if kind in ("pause", "resume") and self.rec is not None:
            with self._lock:
                if kind == "resume" and self._route is not None:
                    self._route.resumed()
            await self._device(self.rec, "pause" if kind == "pause" else "play")
        await super()._command(cmd)

    async def _device(self, rec: DeviceRecording, command: str, scale: float | None = None,
                      npt: float | None = None) -> bool:
        async with self._commands:
            return await asyncio.to_thread(rec.command, command, scale, npt)

    def _frame(self, rec: DeviceRecording, frame: Frame) -> None:
        with self._lock:
            if rec is self.rec and self._route is not None:
                self._route.put(frame)

    def _ended(self, rec: DeviceRecording) -> None:
        with self._lock:
            if rec is self.rec and self._route is not None:
                self._route.end()

    def _set_route(self, route: _Route | None) -> None:
        with self._lock:
            self._route = route

    async def _serve(self, at: float, speed: float) -> None:
        self._set_route(None)  # frames sent before the device moves are not this timeline's
        try:
            start = await self._goto(at, speed)
        except RuntimeError as exc:
            return await self._text({"type": "error", "error": str(exc)})
        # the device's speed: it may have refused another (the browser's clock follows it)
        route = _Route(asyncio.get_running_loop(), start, self.scale)
        timeline = Timeline(self, start, self.scale)
        await timeline.open()
        self._set_route(route)
        rec = self.rec
        assert rec is not None
        rec.attach(partial(self._frame, rec))  # a new recording's first frames
        if rec.ended.is_set():
            route.end()
        try:
            while (au := await route.queue.get()) is not None:
                await timeline.pace(au)
            await self._text({"type": "end", "at": timeline.last})
        finally:
            with self._lock:
                if self._route is route:
                    self._route = None
            await timeline.close()

    async def _goto(self, at: float, speed: float) -> float:
        """The device playing from ``at`` at ``speed`` (``self.scale``: what it took):
        MANSRTSP in the call where one is open and started at or before ``at``, else (or
        refused there) a new INVITE; the recorded instant its frames start from."""
        rec = self.rec
        if rec is not None and not rec.ended.is_set() and rec.start <= at:
            scale = speed if speed != self.scale else None
            if await self._device(rec, "play", scale=scale, npt=at - rec.start):
                self.scale = speed
                return at
        if rec is not None:
            rec.stop()
        assert self.window is not None
        begin, end = int(at), int(self.window[1])
        if not begin < end:
            raise RuntimeError("nothing recorded to play after this instant")
        rec = self.rec = DeviceRecording(self.channel, begin, end)
        rec.on_end = partial(self._ended, rec)
        codec = await asyncio.to_thread(rec.open, FIRST_FRAME_S)
        if codec is None:
            rec.stop()
            raise RuntimeError(f"nothing from the device ({rec.end_reason or 'timeout'})")
        log.info("device playback %s: %d-%d over WebSocket (call %s)", self.channel.channel,
                 begin, end, rec.call_id)
        self.codec, self.scale = codec, 1.0
        if speed != 1.0 and await self._device(rec, "play", scale=speed):
            self.scale = speed
        return float(begin)
