"""Edge analytics on the scripted scene: line counts and zone entries match the ground truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from devkit.fixtures import edge_scene
from edge.analytics import CameraAnalytics
from edge.analytics.geometry import inside, side, spans
from edge.analytics.tracker import CentroidTracker
from edge.config import AnalyticsConfig

SCENE_ANALYTICS = {
    "fps": 5,
    "width": 320,
    "motion": {"cooldown_s": 5},
    "zones": [{"id": "right", "polygon": [[0.7, 0.3], [0.95, 0.3], [0.95, 0.7], [0.7, 0.7]]}],
    "lines": [{"id": "mid", "a": [0.5, 0.0], "b": [0.5, 1.0]}],
}


def run_scene(config: AnalyticsConfig, fps: float) -> tuple[CameraAnalytics, list]:
    analytics = CameraAnalytics(config)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    detections = []
    n = int((edge_scene.duration() + 2) * fps)
    for i in range(n):
        t = i / fps
        detections += analytics.process(edge_scene.frame_at(t), t0 + timedelta(seconds=t))
    return analytics, detections


@pytest.mark.parametrize("fps", [5, 10])
def test_scene_counts_and_zone_entries_match_ground_truth(fps: float) -> None:
    cfg = AnalyticsConfig.model_validate({**SCENE_ANALYTICS, "fps": fps})
    analytics, dets = run_scene(cfg, fps)
    truth = edge_scene.expected()
    assert analytics.counts["mid"] == {"in": truth["in"], "out": truth["out"]}
    crossings = [d for d in dets if d.kind == "line_crossing"]
    assert [d.attributes["direction"] for d in crossings] == [
        "in" if p > 0 else "out" for p in edge_scene.PASSES
    ]
    intrusions = [d for d in dets if d.kind == "intrusion"]
    assert len(intrusions) == truth["zone_entries"]
    assert all(d.attributes["zone"] == "right" for d in intrusions)
    # Boxes of intrusions lie in the right part of the frame.
    assert all(d.box is not None and d.box[0] + d.box[2] / 2 > 0.6 for d in intrusions)
    motions = [d for d in dets if d.kind == "motion"]
    assert 1 <= len(motions) <= len(edge_scene.PASSES)


def test_still_scene_raises_nothing() -> None:
    analytics = CameraAnalytics(AnalyticsConfig.model_validate(SCENE_ANALYTICS))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    still = edge_scene.frame_at(0)
    noise = np.random.default_rng(1)
    out = []
    for i in range(60):
        frame = np.clip(still.astype(np.int16) + noise.integers(-2, 3, still.shape), 0, 255)
        out += analytics.process(frame.astype(np.uint8), t0 + timedelta(seconds=i / 5))
    assert out == []


def test_line_direction_convention() -> None:
    """A track counts ``forward`` leaving the side where side() > 0: for a line drawn top to
    bottom, left to right on the image."""
    a, b = (0.5, 0.0), (0.5, 1.0)  # drawn top to bottom
    assert side(a, b, (0.4, 0.5)) == 1 and side(a, b, (0.6, 0.5)) == -1
    assert side(a, b, (0.5, 0.3)) == 0  # on the line: decided when it leaves
    assert spans(a, b, (0.4, 0.5), (0.6, 0.5))
    assert not spans((0.5, 0.0), (0.5, 0.4), (0.4, 0.5), (0.6, 0.5))  # passes below its end


def test_polygon_and_tracker() -> None:
    square = [(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8)]
    assert inside(square, (0.5, 0.5)) and not inside(square, (0.9, 0.5))
    tracker = CentroidTracker(max_distance=0.2, max_missed=1)
    first = tracker.update([(0.1, 0.1, 0.1, 0.1), (0.7, 0.7, 0.1, 0.1)])
    second = tracker.update([(0.72, 0.7, 0.1, 0.1), (0.12, 0.1, 0.1, 0.1)])
    assert {t.id for t in first} == {t.id for t in second}  # same two objects, order swapped
    tracker.update([])
    tracker.update([])
    assert tracker.tracks == {}  # gone after max_missed
