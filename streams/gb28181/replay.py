"""Recorded footage as PS over RTP at 1x (GB/T 28181 ``s=Playback`` for an upper platform).

The recording's access units (``streams.playback.reader``: from the keyframe at or before
``start``, across segments, no decoding) are read in a worker thread and sent paced by
their wall time, RTP timestamps from that same wall time (one per frame); a gap in the
recording is skipped, not waited out. Ends at ``end`` or at the end of the footage.
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


async def send_recorded(sender: PsRtpSender, segments: list[Segment], codec: str,
                        start: float, end: float) -> str:
    """Send ``start``..``end`` of the footage; returns why it stopped (END_OF_RECORDING)."""
    loop = asyncio.get_running_loop()
    units: asyncio.Queue[tuple[AccessUnit, bool] | None] = asyncio.Queue(QUEUE)
    stop = threading.Event()

    def read() -> None:
        pump(read_from(segments, start, codec), units, loop, stop, end)

    reader = loop.run_in_executor(None, read)
    base: tuple[float, float] | None = None  #: (media time, loop time) of the pacing origin
    try:
        while (item := await units.get()) is not None:
            au, after_gap = item
            if base is None or after_gap:
                base = (au.pts, loop.time())
            wait = (au.pts - base[0]) - (loop.time() - base[1])
            if wait > 0:
                await asyncio.sleep(wait)
            await sender.send(au.data, int(au.pts * 90000) & 0xFFFFFFFF)
        return END_OF_RECORDING
    finally:
        stop.set()
        while not units.empty():
            units.get_nowait()
        with contextlib.suppress(Exception):
            await reader
