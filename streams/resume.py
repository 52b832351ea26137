"""A restarted relay pulls again what was being watched when it stopped.

On-demand streams connect when their first viewer comes. After a relay crash every tile of
every wall comes back within a second (the players retry at once), and each would then wait
for its camera's connection and next keyframe (a GOP: 1-2 s on most cameras) before its
first frame. So the relay keeps, in its state directory (``resume_file``), the streams
that had consumers (rewritten when that set changes) and, as it starts, holds those
streams for ``streams.resume_hold_s``:
they connect while the process is still starting, and the players find them live. A stream
nobody comes back to is closed by its idle timer as usual once the hold ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from core.files import write_private
from streams.config import relay_dir
from streams.core.stream import CameraStream

log = logging.getLogger(__name__)
SAVE_EVERY_S = 1.0  #: how often the set of watched streams is looked at

#: profile -> (camera id -> stream): the relay's main and sub streams.
Streams = Callable[[], dict[str, dict[str, CameraStream]]]


def resume_file(state_dir: Path) -> Path:
    """Where a relay keeps it: in its own private directory (``relay_dir``)."""
    return relay_dir(state_dir) / "watched.json"


class ResumedPulls:
    def __init__(self, path: Path, streams: Streams, hold_s: float) -> None:
        self.path = path
        self.streams = streams
        self.hold_s = hold_s  #: a resumed stream waits this long for its viewers
        self._saved: dict[str, list[str]] | None = None

    def watched(self) -> dict[str, list[str]]:
        """Per profile, the on-demand streams that have a consumer now."""
        return {profile: sorted(cid for cid, s in by_id.items()
                                if s.lease_count and not s.always_on)
                for profile, by_id in self.streams().items()}

    def resume(self) -> int:
        """Holds the streams watched before the restart for ``hold_s``; how many."""
        if self.hold_s <= 0:
            return 0
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:  # a torn or foreign file: start cold, say so
            log.warning("resume: %s unreadable (%s); no stream pulled ahead", self.path, exc)
            return 0
        loop = asyncio.get_running_loop()
        held = 0
        for profile, by_id in self.streams().items():
            ids = saved.get(profile, []) if isinstance(saved, dict) else []
            for cid in ids if isinstance(ids, list) else []:
                stream = by_id.get(cid) if isinstance(cid, str) else None
                if stream is not None:
                    loop.call_later(self.hold_s, stream.acquire("resume").release)
                    held += 1
        if held:
            log.info("resume: pulling %d streams watched before the restart", held)
        return held

    def save(self) -> None:
        """Rewrites the file when the set of watched streams changed."""
        now = self.watched()
        if now != self._saved:  # whole or not at all: a kill mid-write leaves the old file
            os.replace(write_private(self.path.with_suffix(".tmp"), json.dumps(now)), self.path)
            self._saved = now

    async def run(self) -> None:
        """save() every SAVE_EVERY_S until cancelled; never raises."""
        while True:
            try:
                self.save()
            except OSError as exc:
                log.warning("resume: cannot write %s: %s", self.path, exc)
            await asyncio.sleep(SAVE_EVERY_S)
