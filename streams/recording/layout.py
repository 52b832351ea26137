"""Where a camera's recordings live on a node: its journal and its segment folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streams.recording.config import RecordingConfig


@dataclass(frozen=True)
class Layout:
    paths: list[Path]  # fast paths; the first holds the journals
    archive: Path | None

    @classmethod
    def of(cls, settings: RecordingConfig, default_root: Path) -> Layout:
        paths = [Path(p) for p in settings.paths] or [default_root]
        return cls(paths, Path(settings.archive_path) if settings.archive_path else None)

    def journal_dir(self, camera_id: str) -> Path:
        """One journal per camera (one chain), wherever its segments are."""
        return self.paths[0] / camera_id

    def camera_dirs(self, camera_id: str) -> list[Path]:
        roots = [*self.paths, *([self.archive] if self.archive else [])]
        return [r / camera_id for r in roots]
