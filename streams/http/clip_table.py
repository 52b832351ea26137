"""The clips a relay has cut, by id: bounded by count and age so a long-running relay's
memory does not grow with every clip request."""

from __future__ import annotations

import time
from collections import OrderedDict

from streams.recorder.clips import Clip


class ClipTable:
    """Most recent ``max_count`` clips no older than ``max_age_s``; older ones are forgotten
    (their files stay in the clips folder, whose retention is the recorder's)."""

    def __init__(self, max_count: int = 1000, max_age_s: float = 24 * 3600) -> None:
        self.max_count = max_count
        self.max_age_s = max_age_s
        self._clips: OrderedDict[str, tuple[float, Clip]] = OrderedDict()

    def add(self, clip: Clip) -> None:
        self._clips[clip.id] = (time.monotonic(), clip)
        self._clips.move_to_end(clip.id)
        self.prune()

    def get(self, clip_id: str) -> Clip | None:
        self.prune()
        entry = self._clips.get(clip_id)
        return entry[1] if entry else None

    def prune(self) -> None:
        oldest = time.monotonic() - self.max_age_s
        while self._clips:
            first_id, (added, _clip) = next(iter(self._clips.items()))
            if len(self._clips) <= self.max_count and added >= oldest:
                break
            del self._clips[first_id]

    def __len__(self) -> int:
        return len(self._clips)
