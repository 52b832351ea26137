"""Saving what a half-written segment holds: cut back to its last whole fMP4 fragment."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import av


def whole_boxes_end(path: Path) -> int:
    """Offset just after the last whole top-level box, a fragment (moof+mdat) counted
    whole only with its mdat."""
    size = path.stat().st_size
    end = pos = 0
    with path.open("rb") as f:
        while pos + 8 <= size:
            f.seek(pos)
            box_size, kind = struct.unpack(">I4s", f.read(8))
            if box_size == 1:
                box_size = struct.unpack(">Q", f.read(8))[0]
            elif box_size == 0:
                box_size = size - pos
            if box_size < 8 or pos + box_size > size:
                break
            pos += box_size
            if kind == b"moof":
                continue
            end = pos
    return end  # a moof without its mdat is left out


def media_span(path: Path) -> tuple[float, int] | None:
    """(seconds of video, frames) in a segment, by demuxing (no decoding)."""
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            base = video.time_base
            if base is None:
                return None
            first = last = None
            frames = 0
            for packet in container.demux(video):
                if packet.pts is None:
                    continue
                t = float(packet.pts * base)
                dur = float((packet.duration or 0) * base)
                first = t if first is None else min(first, t)
                last = t + dur if last is None else max(last, t + dur)
                frames += 1
    except (av.error.FFmpegError, IndexError, OSError):
        return None
    if first is None or last is None or frames == 0:
        return None
    return last - first, frames


def recover(path: Path) -> float | None:
    """Cut a partial segment back to whole fragments; its duration, None if nothing is left."""
    end = whole_boxes_end(path)
    if end < path.stat().st_size:
        with path.open("r+b") as f:
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())
    span = media_span(path)
    return span[0] if span else None
