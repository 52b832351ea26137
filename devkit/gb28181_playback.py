"""A simulated NVR playing its recording of a window (GB/T 28181 ``s=Playback``, or the
2022 edition's ``s=Download`` at ``a=downloadspeed``) as real MPEG-PS over RTP, from its
recorded clip: frame i is recorded time ``start + i / fps`` (the clip looped), until
``end``. MANSRTSP in the call (``INFO``) pauses, resumes, changes speed (``Scale``) and
seeks (``Range: npt=<s>-``, from the keyframe at or before). At the end of the window it
says MediaStatus 121 and BYEs, as NVRs do at the end of a file."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gb28181 import mansrtsp
from streams.gb28181 import ps
from streams.gb28181.sender import PsRtpSender

log = logging.getLogger(__name__)


@dataclass
class RecordedPlay:
    units: list[bytes]
    codec: str
    fps: int
    start: int  #: unix s of the window (the offer's ``t=``)
    end: int
    scale: float = 1.0  #: playing speed (Download: the download speed)
    position: int = 0  #: the next frame, counted from ``start``
    commands: list[mansrtsp.Command] = field(default_factory=list)  #: MANSRTSP received

    def __post_init__(self) -> None:
        self.running = asyncio.Event()
        self.running.set()
        self._moved = asyncio.Event()  #: a command changed pace or place: restart the clock

    @property
    def frames(self) -> int:
        return (self.end - self.start) * self.fps

    def control(self, cmd: mansrtsp.Command) -> None:
        self.commands.append(cmd)
        if cmd.method == "PAUSE":
            self.running.clear()
            self._moved.set()
            return
        if cmd.scale is not None:
            self.scale = cmd.scale
        if cmd.npt is not None:
            self.position = self._keyframe_before(min(int(cmd.npt * self.fps), self.frames - 1))
        self.running.set()
        self._moved.set()

    def _keyframe_before(self, frame: int) -> int:
        n = len(self.units)
        return next((i for i in range(frame, -1, -1)
                     if ps.is_keyframe(self.units[i % n], self.codec)), 0)

    async def run(self, sender: PsRtpSender, at_end: Callable[[], Awaitable[None]]) -> None:
        """Send until the window is played (then ``at_end``), or cancelled (BYE)."""
        loop = asyncio.get_running_loop()
        t0, sent = loop.time(), 0
        while self.position < self.frames:
            if not self.running.is_set() or self._moved.is_set():
                await self.running.wait()
                self._moved.clear()
                t0, sent = loop.time(), 0
            au = self.units[self.position % len(self.units)]
            await sender.send(au, (self.position * 90000 // self.fps) & 0xFFFFFFFF)
            self.position += 1
            sent += 1
            delay = t0 + sent / (self.fps * self.scale) - loop.time()
            if delay > 0:
                try:  # a command wakes the sender at once
                    await asyncio.wait_for(self._moved.wait(), delay)
                except TimeoutError:
                    pass
        log.info("sim: recording %d-%d played to its end", self.start, self.end)
        await at_end()
