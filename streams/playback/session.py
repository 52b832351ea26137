"""One browser playback over a WebSocket: recorded fMP4 from any instant, paced by the
server at 1x/2x/4x/8x (keyframes only above 2x), paused and sought on request.

The client sends JSON: ``{"type": "play", "at": <unix s>, "speed": 1}`` (also to seek or
change speed), ``{"type": "pause"}``, ``{"type": "resume"}``. Each play starts a new
timeline: a JSON ``init`` message (MIME type, ``start`` = wall time of media time 0,
``speed``), the init segment, then ``moof+mdat`` per frame. Media timestamps are
``(wall - start) / speed``, so a browser's player simply follows. After a gap in the
recording a new timeline starts (another ``init``); at the end of the footage comes
``{"type": "end", "at": ...}``. A paused playback holds no camera and no idle timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from abc import ABC, abstractmethod
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from streams.core.media import AccessUnit
from streams.fmp4.boxes import BoxError, codec_string
from streams.fmp4.muxer import Fmp4Muxer
from streams.playback.reader import pump, read_from
from streams.recording.journal import Journal

log = logging.getLogger(__name__)

SPEEDS = (1.0, 2.0, 4.0, 8.0)
LEAD_S = 1.0  #: media sent ahead of the play clock, so the browser never starves
QUEUE = 64  #: units read ahead of the pacer


class WsPlayback(ABC):
    """The WebSocket side of one browser playback: the client's commands in, timelines
    out; where the footage comes from is ``_serve``'s (the relay's journal, or a device)."""

    def __init__(
        self,
        ws: WebSocket,
        codec: str = "h264",
        window: tuple[float, float] | None = None,
    ) -> None:
        self.ws = ws
        self.codec = codec
        self.window = window  # the token's time window, if limited
        self.paused = asyncio.Event()
        self._play: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()

    async def run(self) -> None:
        try:
            while True:
                msg = await self.ws.receive()
                if msg["type"] == "websocket.disconnect":
                    return
                if msg.get("text"):
                    cmd = json.loads(msg["text"])
                    if not isinstance(cmd, dict):
                        await self._text({"type": "error", "error": "commands are JSON objects"})
                        continue
                    await self._command(cmd)
        except (WebSocketDisconnect, ValueError):
            return
        finally:
            await self._stop()

    async def _command(self, cmd: dict[str, Any]) -> None:
        kind = cmd.get("type")
        if kind == "pause":
            self.paused.set()
        elif kind == "resume":
            self.paused.clear()
        elif kind == "play":
            try:
                speed, at = float(cmd.get("speed", 1)), float(cmd["at"])
            except (KeyError, TypeError, ValueError):
                return await self._text(
                    {"type": "error", "error": "play needs at (unix s) and speed as numbers"}
                )
            if speed not in SPEEDS:
                return await self._text(
                    {"type": "error", "error": f"speed must be one of {SPEEDS}"}
                )
            if self.window and not self.window[0] <= at <= self.window[1]:
                return await self._text(
                    {"type": "error", "error": "outside the allowed time window"}
                )
            await self._stop()
            self.paused.clear()
            self._play = asyncio.create_task(self._serve(at, speed))

    async def _stop(self) -> None:
        if self._play is not None:
            self._play.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._play
            self._play = None

    async def _text(self, payload: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.ws.send_text(json.dumps(payload))

    @abstractmethod
    async def _serve(self, at: float, speed: float) -> None:
        """Send the footage from ``at`` (unix s) at ``speed`` until it ends or is cancelled."""


class PlaybackSession(WsPlayback):
    """The relay's own recording, read from its journal and paced here."""

    def __init__(
        self,
        journal: Journal,
        ws: WebSocket,
        codec: str = "h264",
        window: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(ws, codec, window)
        self.journal = journal

    async def _serve(self, at: float, speed: float) -> None:
        loop = asyncio.get_running_loop()
        units: asyncio.Queue[tuple[AccessUnit, bool] | None] = asyncio.Queue(QUEUE)
        stop = threading.Event()
        end = self.window[1] if self.window else None

        def read() -> None:
            units_at = read_from(self.journal.overlapping(at), at, self.codec,
                                 keyframes_only=speed > 2)
            pump(units_at, units, loop, stop, end)

        reader = loop.run_in_executor(None, read)
        timeline: Timeline | None = None
        try:
            while (item := await units.get()) is not None:
                au, after_gap = item
                if timeline is None or after_gap:
                    if timeline is not None:
                        await timeline.close()
                    timeline = Timeline(self, au.pts, speed)
                    await timeline.open()
                await timeline.pace(au)
            await self._text({"type": "end", "at": timeline.last if timeline else at})
        finally:
            stop.set()
            while not units.empty():
                units.get_nowait()
            with contextlib.suppress(Exception):
                await reader
            if timeline is not None:
                await timeline.close()


class Timeline:
    """One continuous stretch of playback: a muxer, its init, paced media."""

    def __init__(self, session: WsPlayback, start: float, speed: float) -> None:
        self.session = session
        self.start = start
        self.speed = speed
        self.last = start
        self._boxes: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._muxer: Fmp4Muxer | None = None
        self._sender: asyncio.Task[None] | None = None
        self._clock0 = 0.0
        self._paused_s = 0.0

    async def open(self) -> None:
        loop = asyncio.get_running_loop()

        def put(item: tuple[str, bytes]) -> None:
            loop.call_soon_threadsafe(self._boxes.put_nowait, item)

        self._muxer = Fmp4Muxer(
            self.session.codec,
            lambda k, d: put((k, d)),
            lambda m: put(("error", m.encode())),
            "playback",
        )
        self._muxer.start()
        self._clock0 = loop.time()
        self._sender = asyncio.create_task(self._send())

    async def pace(self, au: AccessUnit) -> None:
        """Push ``au`` when the play clock (paused time left out) is LEAD_S short of it."""
        loop = asyncio.get_running_loop()
        due = (au.pts - self.start) / self.speed - LEAD_S
        while True:
            if self.session.paused.is_set():
                t = loop.time()
                while self.session.paused.is_set():
                    await asyncio.sleep(0.05)
                self._paused_s += loop.time() - t
            wait = due - (loop.time() - self._clock0 - self._paused_s)
            if wait <= 0:
                break
            await asyncio.sleep(min(wait, 0.1))
        assert self._muxer is not None
        self._muxer.push(
            AccessUnit(au.data, (au.pts - self.start) / self.speed, au.keyframe, au.codec)
        )
        self.last = au.pts

    async def _send(self) -> None:
        init, moof, sent = b"", b"", False
        while True:
            kind, data = await self._boxes.get()
            if kind == "error":
                await self.session._text({"type": "error", "error": data.decode()[:200]})
                return
            if kind in ("ftyp", "moov") and not sent:
                init += data
                if kind == "moov":
                    try:
                        mime = f'video/mp4; codecs="{codec_string(init)}"'
                    except BoxError as exc:
                        await self.session._text({"type": "error", "error": str(exc)})
                        return
                    hello = {"type": "init", "mime": mime, "start": self.start, "speed": self.speed}
                    async with self.session._send_lock:
                        await self.session.ws.send_text(json.dumps(hello))
                        await self.session.ws.send_bytes(init)
                    sent = True
            elif kind == "moof":
                moof = data
            elif kind == "mdat" and moof and sent:
                async with self.session._send_lock:
                    await self.session.ws.send_bytes(moof + data)
                moof = b""

    async def close(self) -> None:
        if self._muxer is not None:
            self._muxer.src.emit("end-of-stream")  # the last frame's fragment goes out too
            await asyncio.sleep(0.05)
            await asyncio.get_running_loop().run_in_executor(None, self._muxer.close)
        if self._sender is not None:
            # Let what the muxer already produced go out before this timeline ends.
            for _ in range(20):
                if self._boxes.empty():
                    break
                await asyncio.sleep(0.01)
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
