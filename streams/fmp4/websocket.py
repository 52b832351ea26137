"""fMP4 over WebSocket: the fallback where WebRTC cannot pass (UDP blocked, TURN-less NAT).

Protocol (``GET /fmp4/{camera}?token=`` upgraded to a WebSocket, token with ``fmp4``):
1. a text message ``{"type": "init", "mime": "video/mp4; codecs=\\"avc1.64001f\\"", ...}``
   (what the browser passes to ``MediaSource.addSourceBuffer``),
2. one binary message: the init segment (ftyp + moov),
3. one binary message per frame: a media segment (moof + mdat), starting on the GOP
   cache's keyframe, so playback begins at once.
Refusals and failures close the socket with a 4xxx code (HTTP status + 4000) and a reason.
A viewer that cannot keep up skips to the next keyframe instead of growing a backlog.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from streams.core.media import AccessUnit
from streams.core.stream import CameraStream
from streams.fmp4.boxes import BoxError, codec_string
from streams.fmp4.muxer import Fmp4Muxer

log = logging.getLogger(__name__)

#: Media segments queued for a viewer before it is skipped to the next keyframe.
MAX_BACKLOG = 100


class Fmp4Viewer:
    """One WebSocket viewer: fan-out consumer -> per-viewer muxer -> WebSocket."""

    def __init__(self, stream: CameraStream, ws: WebSocket, wait_live_s: float) -> None:
        self.stream = stream
        self.ws = ws
        self.wait_live_s = wait_live_s
        self.sent = 0
        self.skipped = 0
        self._need_keyframe = False
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def run(self) -> None:
        """Serve until the viewer leaves or the stream fails (closes the socket either way)."""
        lease = self.stream.acquire("fmp4")
        muxer: Fmp4Muxer | None = None
        cid: int | None = None
        loop = asyncio.get_running_loop()
        try:
            if not await self.stream.wait_live(self.wait_live_s) or self.stream.codec is None:
                why = self.stream.last_error or "no video"
                return await self._close(4503, f"camera not available: {why}")
            codec = self.stream.codec

            def put(item: tuple[str, Any]) -> None:
                loop.call_soon_threadsafe(self._queue.put_nowait, item)

            muxer = Fmp4Muxer(
                codec, lambda k, d: put((k, d)), lambda m: put(("error", m)), self.stream.camera_id
            )
            muxer.start()

            def consume(au: AccessUnit) -> None:  # GStreamer thread (or here, for the GOP cache)
                if au.codec != codec:
                    put(("error", f"camera changed codec from {codec} to {au.codec}"))
                    return
                if self._queue.qsize() > MAX_BACKLOG:
                    self._need_keyframe = True
                if self._need_keyframe:
                    if not au.keyframe or self._queue.qsize() > MAX_BACKLOG // 2:
                        self.skipped += 1
                        return
                    self._need_keyframe = False
                muxer.push(au)

            cid = self.stream.fanout.subscribe(consume)
            sender = asyncio.create_task(self._send())
            receiver = asyncio.create_task(self._receive())
            done, pending = await asyncio.wait(
                {sender, receiver}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            for task in done:
                exc = None if task.cancelled() else task.exception()
                if exc is not None:
                    # A viewer (or the gateway in front of it) gone mid-send is no fault here.
                    level = logging.INFO if isinstance(exc, WebSocketDisconnect | OSError) \
                        else logging.WARNING
                    log.log(level, "fmp4 %s: %s: %s", self.stream.camera_id,
                            type(exc).__name__, exc)
        finally:
            if cid is not None:
                self.stream.fanout.unsubscribe(cid)
            if muxer is not None:
                await loop.run_in_executor(None, muxer.close)
            lease.release()

    async def _send(self) -> None:
        init = b""
        moof = b""
        while True:
            kind, data = await self._queue.get()
            if kind == "error":
                return await self._close(1011, f"stream failed: {data}"[:120])
            if kind in ("ftyp", "moov") and not self.sent:
                init += data
                if kind == "moov":
                    try:
                        mime = f'video/mp4; codecs="{codec_string(init)}"'
                    except BoxError as exc:
                        return await self._close(1011, f"unusable init segment: {exc}"[:120])
                    hello = {
                        "type": "init",
                        "mime": mime,
                        "codec": self.stream.codec,
                        "camera": self.stream.camera_id,
                    }
                    await self.ws.send_text(json.dumps(hello))
                    await self.ws.send_bytes(init)
                    self.sent = 1
            elif kind == "moof":
                moof = data
            elif kind == "mdat" and moof and self.sent:
                await self.ws.send_bytes(moof + data)
                moof = b""
                self.sent += 1

    async def _receive(self) -> None:
        try:
            while True:
                msg = await self.ws.receive()
                if msg["type"] == "websocket.disconnect":
                    return
        except WebSocketDisconnect:
            return

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self.ws.close(code, reason)
        except RuntimeError:  # already closed by the peer
            pass
