"""The relay's clip table stays bounded by count and by age."""

from __future__ import annotations

from pathlib import Path

from streams.http.clip_table import ClipTable
from streams.recorder.clips import Clip


def clip(i: int) -> Clip:
    return Clip(id=f"c{i}", camera_id="cam", path=Path(f"/nonexistent/c{i}.mp4"), sha256="0" * 64,
                size=1, duration_s=1.0, frames=25, created_at=0.0)


def test_the_oldest_clips_are_forgotten_beyond_the_count() -> None:
    table = ClipTable(max_count=3)
    for i in range(5):
        table.add(clip(i))
    assert len(table) == 3
    assert table.get("c0") is None and table.get("c1") is None
    kept = [table.get(f"c{i}") for i in (2, 3, 4)]
    assert [c.id if c else None for c in kept] == ["c2", "c3", "c4"]


def test_clips_older_than_the_age_are_forgotten() -> None:
    table = ClipTable(max_age_s=0.0)
    table.add(clip(1))
    assert table.get("c1") is None and len(table) == 0
