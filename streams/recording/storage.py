"""Storage paths of one relay node: which one takes the next segment, how full each is."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TypedDict

#: Written in every storage path when recording starts: a path whose marker is gone is a
#: mount that went away (the empty mount point left behind must not take footage).
MARKER = ".cityhub-recordings"


class PathState(TypedDict):
    """One storage path as ``describe`` tells it (the relay's /recordings, its metrics)."""

    path: str
    usable: bool
    total_bytes: int
    free_bytes: int
    recordings_bytes: int
    quota_bytes: int | None


class Storage:
    def __init__(self, paths: list[Path], quota_bytes: dict[str, int], min_free: int) -> None:
        self.paths = paths
        self.quota_bytes = quota_bytes  # str(path) -> bytes allowed
        self.min_free = min_free

    def prepare(self) -> None:
        for path in self.paths:
            path.mkdir(parents=True, exist_ok=True)
            (path / MARKER).touch()

    def usable(self, path: Path) -> bool:
        """Mounted and writable (a NAS that went away is not)."""
        return (path / MARKER).exists() and os.access(path, os.W_OK)

    def free(self, path: Path) -> int:
        try:
            return shutil.disk_usage(path).free
        except OSError:
            return 0

    def pick(self) -> Path:
        """The usable path with the most free space (the first one when none is usable:
        the write then fails loudly instead of landing somewhere unexpected)."""
        usable = [p for p in self.paths if self.usable(p)]
        if not usable:
            return self.paths[0]
        roomy = [p for p in usable if self.free(p) > self.min_free]
        return max(roomy or usable, key=self.free)

    def owner(self, file: str) -> Path | None:
        for path in self.paths:
            if file.startswith(str(path) + os.sep):
                return path
        return None

    def describe(self, used: dict[Path, int]) -> list[PathState]:
        out: list[PathState] = []
        for path in self.paths:
            try:
                du = shutil.disk_usage(path)
                total, free = du.total, du.free
            except OSError:
                total = free = 0
            out.append(
                {
                    "path": str(path),
                    "usable": self.usable(path),
                    "total_bytes": total,
                    "free_bytes": free,
                    "recordings_bytes": used.get(path, 0),
                    "quota_bytes": self.quota_bytes.get(str(path)),
                }
            )
        return out
