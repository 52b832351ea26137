"""Per-camera analytics: MOG2 background subtraction -> blobs -> tracks -> detections."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np

from edge.analytics.geometry import inside, side, spans
from edge.analytics.tracker import Box, CentroidTracker
from edge.config import AnalyticsConfig


@dataclass
class Detection:
    """Something worth an event: ``kind`` is motion, intrusion or line_crossing."""

    kind: str
    at: datetime
    attributes: dict[str, object] = field(default_factory=dict)
    box: Box | None = None


class CameraAnalytics:
    """Holds one camera's background model, tracks and line counts."""

    def __init__(self, config: AnalyticsConfig) -> None:
        self.config = config
        m = config.motion
        self.subtractor = cv2.createBackgroundSubtractorMOG2(
            history=m.history, varThreshold=m.var_threshold, detectShadows=False
        )
        self.tracker = CentroidTracker(max_distance=config.max_track_distance * math.sqrt(2))
        self.counts: dict[str, dict[str, int]] = {
            line.id: {line.forward: 0, line.backward: 0} for line in config.lines
        }
        self.frames = 0
        self._last_motion: datetime | None = None
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))

    def process(self, frame: np.ndarray, at: datetime) -> list[Detection]:
        """Analyse one BGR frame taken at ``at``."""
        self.frames += 1
        small = self._scale(frame)
        mask = self.subtractor.apply(small)
        if self.frames <= self.config.motion.warmup_frames:
            return []
        boxes = self._blobs(mask)
        out: list[Detection] = []
        if boxes and self.config.motion.enabled and self._motion_due(at):
            self._last_motion = at
            out.append(Detection("motion", at, {"objects": len(boxes)}, _union(boxes)))
        for track in self.tracker.update(boxes):
            out += self._zones(track, at)
            out += self._lines(track, at)
        return out

    def _scale(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        width = self.config.width
        if w > width:
            frame = cv2.resize(
                frame, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA
            )
        return frame

    def _blobs(self, mask: np.ndarray) -> list[Box]:
        _, mask = cv2.threshold(mask, 127, 255, cv2.THRESH_BINARY)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        mask = cv2.dilate(mask, self._kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        h, w = mask.shape[:2]
        min_area = self.config.motion.min_area * w * h
        boxes = []
        for c in contours:
            if cv2.contourArea(c) < min_area:
                continue
            x, y, bw, bh = cv2.boundingRect(c)
            boxes.append((x / w, y / h, bw / w, bh / h))
        return boxes

    def _motion_due(self, at: datetime) -> bool:
        last = self._last_motion
        return last is None or (at - last).total_seconds() >= self.config.motion.cooldown_s

    def _zones(self, track, at: datetime) -> list[Detection]:
        out = []
        for zone in self.config.zones:
            if inside(list(zone.polygon), track.centroid):
                n = track.zone_frames.get(zone.id, 0) + 1
                track.zone_frames[zone.id] = n
                if n >= zone.min_frames and zone.id not in track.zones_raised:
                    track.zones_raised.add(zone.id)
                    out.append(
                        Detection(
                            "intrusion",
                            at,
                            {
                                "zone": zone.id,
                                "track": track.id,
                                "severity": zone.severity,
                            },
                            track.box,
                        )
                    )
            else:
                track.zone_frames.pop(zone.id, None)
                track.zones_raised.discard(zone.id)  # leaving and re-entering raises again
        return out

    def _lines(self, track, at: datetime) -> list[Detection]:
        out = []
        for line in self.config.lines:
            a, b = (line.a[0], line.a[1]), (line.b[0], line.b[1])
            now = side(a, b, track.centroid)
            if now == 0:
                continue  # on the line: decided when it leaves
            before = track.line_side.get(line.id)
            track.line_side[line.id] = (now, track.centroid)
            if before is None or before[0] == now or not spans(a, b, before[1], track.centroid):
                continue
            direction = line.forward if before[0] > 0 else line.backward
            self.counts[line.id][direction] += 1
            out.append(
                Detection(
                    "line_crossing",
                    at,
                    {
                        "line": line.id,
                        "direction": direction,
                        "track": track.id,
                        "counts": dict(self.counts[line.id]),
                    },
                    track.box,
                )
            )
        return out


def _union(boxes: list[Box]) -> Box:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)
