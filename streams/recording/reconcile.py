"""On start, make a camera's journal and its files agree again.

- a segment file newer than the journal's last segment was being written when the
  relay died: it is cut back to its last whole fMP4 fragment and indexed as recovered
  (or renamed ``.corrupt`` and reported when not even one fragment is whole);
- a journaled file that is gone is reported ``missing``;
- any other ``.mp4`` the journal does not know is reported ``unindexed`` (left as is).
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import av

from streams.recording.journal import Journal
from streams.recording.recorder import segment_time

log = logging.getLogger(__name__)


@dataclass
class Reconciled:
    recovered: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unindexed: list[str] = field(default_factory=list)


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
            first = last = None
            frames = 0
            for packet in container.demux(video):
                if packet.pts is None:
                    continue
                t = float(packet.pts * video.time_base)
                dur = float((packet.duration or 0) * video.time_base)
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


def reconcile(journal: Journal, camera_dirs: list[Path]) -> Reconciled:
    result = Reconciled()
    known = journal.known_files()
    for seg in journal.ordered():
        if not Path(seg.file).exists():
            result.missing.append(seg.file)
    last_start = max((s.start for s in journal.segments.values()), default=0.0)
    found = sorted(
        (p for d in camera_dirs if d.is_dir() for p in d.rglob("*.mp4")),
        key=lambda p: segment_time(p.name) or 0.0,
    )
    for path in found:
        if str(path) in known:
            continue
        start = segment_time(path.name)
        if start is None or start <= last_start:
            result.unindexed.append(str(path))
            continue
        duration = recover(path)
        if duration is None:
            path.rename(path.with_suffix(".corrupt"))
            result.corrupt.append(str(path))
            continue
        journal.add_segment(path, start, start + duration, recovered=True)
        result.recovered.append(str(path))
    for kind in ("recovered", "corrupt", "missing", "unindexed"):
        for file in getattr(result, kind):
            log.warning("recordings %s: %s %s", journal.camera_id, kind, file)
    return result
