"""A simple centroid tracker: nearest-neighbour association between analysed frames.

Enough for counting and zone entry at intersections at a few fps; objects that
disappear for ``max_missed`` frames end their track.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from edge.analytics.geometry import Point

Box = tuple[float, float, float, float]  #: x, y, w, h normalised


@dataclass
class Track:
    id: int
    box: Box
    centroid: Point
    previous: Point | None = None
    age: int = 1
    missed: int = 0
    zone_frames: dict[str, int] = field(default_factory=dict)
    zones_raised: set[str] = field(default_factory=set)
    #: per line: last side (+1/-1) the centroid was seen on, and where (stepping
    #: onto the line and off it on the other side still counts as one crossing)
    line_side: dict[str, tuple[int, Point]] = field(default_factory=dict)


class CentroidTracker:
    def __init__(self, max_distance: float = 0.15, max_missed: int = 3) -> None:
        self.max_distance = max_distance
        self.max_missed = max_missed
        self.tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)

    def update(self, boxes: list[Box]) -> list[Track]:
        """Associate this frame's boxes; returns the tracks seen in this frame."""
        centroids = [(x + w / 2, y + h / 2) for x, y, w, h in boxes]
        pairs = sorted(
            (_dist(t.centroid, c), tid, i)
            for tid, t in self.tracks.items()
            for i, c in enumerate(centroids)
        )
        used_tracks: set[int] = set()
        used_boxes: set[int] = set()
        seen: list[Track] = []
        for d, tid, i in pairs:
            if d > self.max_distance or tid in used_tracks or i in used_boxes:
                continue
            t = self.tracks[tid]
            t.previous, t.centroid, t.box = t.centroid, centroids[i], boxes[i]
            t.age += 1
            t.missed = 0
            used_tracks.add(tid)
            used_boxes.add(i)
            seen.append(t)
        for tid in list(self.tracks):
            if tid not in used_tracks:
                t = self.tracks[tid]
                t.missed += 1
                t.previous = None
                if t.missed > self.max_missed:
                    del self.tracks[tid]
        for i, (box, c) in enumerate(zip(boxes, centroids, strict=True)):
            if i not in used_boxes:
                t = Track(next(self._ids), box, c)
                self.tracks[t.id] = t
                seen.append(t)
        return seen


def _dist(a: Point, b: Point) -> float:
    return float(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5)
