"""A WHEP client on aiortc: for tests, benchmarks and relay-to-relay checks.

It receives (and decodes) the video, so it proves frames are playable.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from core.http import async_client


@dataclass
class WhepClient:
    endpoint: str  #: e.g. http://127.0.0.1:8889/whep/cam1
    token: str | None = None
    pc: RTCPeerConnection = field(
        default_factory=lambda: RTCPeerConnection(RTCConfiguration(iceServers=[]))
    )
    location: str | None = None
    frames: int = 0
    first_frame_at: float | None = None
    started_at: float = 0.0
    size: tuple[int, int] | None = None
    last_frame: object | None = None  #: the latest decoded av.VideoFrame (see ``picture()``)
    _task: asyncio.Task[None] | None = None
    _ended: bool = False

    async def start(self) -> None:
        self.started_at = time.monotonic()
        self.pc.addTransceiver("video", direction="recvonly")
        track_ready: asyncio.Future[object] = asyncio.get_running_loop().create_future()

        @self.pc.on("track")
        def on_track(track: object) -> None:
            if not track_ready.done():
                track_ready.set_result(track)

        await self.pc.setLocalDescription(await self.pc.createOffer())
        headers = {"Content-Type": "application/sdp"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        async with async_client(timeout=20) as http:
            res = await http.post(
                self.endpoint, content=self.pc.localDescription.sdp, headers=headers
            )
        if res.status_code != 201:
            await self.pc.close()
            raise RuntimeError(f"WHEP {res.status_code}: {res.text}")
        self.location = str(httpx.URL(self.endpoint).join(res.headers["location"]))
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=res.text, type="answer"))
        track = await asyncio.wait_for(track_ready, 10)
        self._task = asyncio.create_task(self._read(track))

    async def _read(self, track) -> None:
        try:
            while True:
                frame = await track.recv()
                self.frames += 1
                if hasattr(frame, "width"):  # undecoded: bench.viewers.count_without_decoding
                    self.size = (frame.width, frame.height)
                self.last_frame = frame
                if self.first_frame_at is None:
                    self.first_frame_at = time.monotonic()
        except MediaStreamError:
            self._ended = True

    def picture(self) -> np.ndarray | None:
        """The latest decoded frame as an RGB array (converted on demand, not per frame); None
        before the first, or when frames are not decoded (``count_without_decoding``)."""
        frame = self.last_frame
        return frame.to_ndarray(format="rgb24") if isinstance(frame, VideoFrame) else None

    async def wait_frames(self, n: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.frames < n and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.frames

    async def stop(self) -> int | None:
        """DELETE the session at the relay and close; returns the DELETE status."""
        status = None
        if self.location:
            async with async_client(timeout=10) as http:
                status = (await http.delete(self.location)).status_code
        if self._task:
            self._task.cancel()
        await self.pc.close()
        return status
