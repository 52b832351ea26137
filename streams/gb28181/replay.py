"""Recorded footage as PS over RTP (GB/T 28181 ``s=Playback`` for an upper platform).

The recording's access units (``streams.playback.reader``: from the keyframe at or before
``start``, across segments, no decoding) are read in a worker thread and sent paced by
their wall time, RTP timestamps from that same wall time (one per frame); a gap in the
recording is skipped, not waited out. Ends at ``end`` or at the end of the footage.
The upper steers it in the call with MANSRTSP (annex B), passed on as a ``ReplayControl``:
pause, resume, speed (``Scale``: the pace, not the timestamps) and seek (seconds from
``start``, from the keyframe at or before).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from streams.core.media import AccessUnit
from streams.gb28181.sender import PsRtpSender
from streams.playback.reader import pump, read_from
from streams.recording.journal import Segment

QUEUE = 32  #: units read ahead of the pacer
END_OF_RECORDING = "end of recording"


def has_footage(segments: list[Segment], start: float, end: float) -> bool:
    return any(s.start < end and s.end > start for s in segments)


def spans(segments: list[Segment], start: float, end: float, gap_s: float = 1.0
          ) -> list[tuple[float, float]]:
    """Recorded time within [start, end]: segments joined where less than ``gap_s`` apart."""
    out: list[list[float]] = []
    for s in segments:
        if s.end <= start or s.start >= end:
            continue
        a, b = max(s.start, start), min(s.end, end)
        if out and a - out[-1][1] <= gap_s:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


class ReplayControl:
    """What the upper asked last: paused or not, the speed, a seek not yet done."""

    def __init__(self) -> None:
        self.paused = False
        self.scale = 1.0
        self.seek: float | None = None  #: seconds from the window's start
        self.changed = asyncio.Event()  #: wakes the pacer

    def apply(self, method: str, scale: float | None = None, npt: float | None = None) -> None:
        """``PAUSE``, or ``PLAY`` (resume, with a new ``scale`` and/or a seek to ``npt``)."""
        if method == "PAUSE":
            self.paused = True
        else:
            self.paused = False
            self.scale = scale if scale is not None else self.scale
            self.seek = npt if npt is not None else self.seek
        self.changed.set()


async def send_recorded(sender: PsRtpSender, segments: list[Segment], codec: str,
                        start: float, end: float, control: ReplayControl | None = None) -> str:
    """Send ``start``..``end`` of the footage; returns why it stopped (END_OF_RECORDING)."""
    control = control or ReplayControl()
    at = start
    while await _send_from(sender, segments, codec, at, end, control):
        at = min(start + (control.seek or 0.0), end)
        control.seek = None
    return END_OF_RECORDING


async def _pace(control: ReplayControl, pts: float, base: tuple[float, float],
                loop: asyncio.AbstractEventLoop) -> tuple[float, float] | None:
    """Wait until the unit at ``pts`` is due; the pacing origin it was sent against, or None
    when a seek ends this run. A pause or a new speed paces again from this unit."""
    while control.seek is None:
        if control.paused:
            control.changed.clear()
            await control.changed.wait()
            base = (pts, loop.time())
            continue
        wait = (pts - base[0]) / control.scale - (loop.time() - base[1])
        if wait <= 0:
            return base
        control.changed.clear()
        try:
            await asyncio.wait_for(control.changed.wait(), wait)
        except TimeoutError:
            return base
        base = (pts, loop.time())
    return None


async def _send_from(sender: PsRtpSender, segments: list[Segment], codec: str, at: float,
                     end: float, control: ReplayControl) -> bool:
    """Send from ``at`` to ``end``; True when a seek cut it short."""
    loop = asyncio.get_running_loop()
    units: asyncio.Queue[tuple[AccessUnit, bool] | None] = asyncio.Queue(QUEUE)
    stop = threading.Event()

    def read() -> None:
        pump(read_from(segments, at, codec), units, loop, stop, end)

    reader = loop.run_in_executor(None, read)
    base: tuple[float, float] | None = None  #: (media time, loop time) of the pacing origin
    try:
        while (item := await units.get()) is not None:
            au, after_gap = item
            if base is None or after_gap:
                base = (au.pts, loop.time())
            if (base := await _pace(control, au.pts, base, loop)) is None:
                return True
            await sender.send(au.data, int(au.pts * 90000) & 0xFFFFFFFF)
        return False
    finally:
        stop.set()
        while not units.empty():
            units.get_nowait()
        with contextlib.suppress(Exception):
            await reader
