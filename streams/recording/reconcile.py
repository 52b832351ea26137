"""On start, make a camera's journal and its files agree again.

- a segment file newer than the journal's last segment was being written when the
  relay died: it is cut back to its last whole fMP4 fragment and indexed as recovered
  (or renamed ``.corrupt`` and reported when not even one fragment is whole);
- a journaled file that is gone is reported ``missing``;
- any other ``.mp4`` the journal does not know is reported ``unindexed`` (left as is).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from streams.recording.journal import Journal
from streams.recording.recorder import segment_time
from streams.recording.salvage import recover

log = logging.getLogger(__name__)


@dataclass
class Reconciled:
    recovered: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unindexed: list[str] = field(default_factory=list)


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
