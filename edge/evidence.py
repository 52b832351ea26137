"""Detections -> cityhub events with JPEG snapshots kept on the edge box's disk.

Snapshots are content-addressed (``snapshots/<sha256[:2]>/<sha256>.jpg``) and
served by the box's HTTP listener at ``GET /snapshots/<sha256>.jpg``; the event
carries that URL and the sha256 (``MediaRef``), so the hub's database holds the
reference and anyone fetching the picture can prove it is the one the event
was raised with. The event id (UUIDv7) is made here, at detection, so every
re-send of the event is the same event to the hub.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np

from adapters.model import Event, MediaRef, Severity
from core.model import SourceSystem
from edge.analytics import Detection
from edge.config import EdgeCameraConfig, EdgeConfig

_SEVERITY = {"motion": Severity.info, "line_crossing": Severity.info, "intrusion": Severity.major}


class SnapshotStore:
    def __init__(self, directory: Path, base_url: str) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.base_url = base_url.rstrip("/")

    def path(self, sha256: str) -> Path:
        return self.dir / sha256[:2] / f"{sha256}.jpg"

    def save(self, jpeg: bytes) -> str:
        """Write atomically (rename) and durably; returns the sha256."""
        sha = hashlib.sha256(jpeg).hexdigest()
        target = self.path(sha)
        if target.exists():
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(jpeg)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha

    def uri(self, sha256: str) -> str:
        return f"{self.base_url}/snapshots/{sha256}.jpg"


def encode_jpeg(frame: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def detection_event(
    config: EdgeConfig, camera: EdgeCameraConfig, det: Detection, snapshot: MediaRef | None
) -> Event:
    attrs = dict(det.attributes)
    severity = _SEVERITY.get(det.kind, Severity.info)
    if "severity" in attrs:
        severity = Severity[str(attrs.pop("severity"))]
    if det.box is not None:
        attrs["box"] = [round(v, 4) for v in det.box]
    analytics = camera.analytics
    if analytics is not None and analytics.clip.enabled and det.kind != "motion":
        # The hub's relay cuts the clip from its recording / pre-event buffer.
        attrs["clip_request"] = {
            "camera": camera.id,
            "start": (det.at - timedelta(seconds=analytics.clip.pre_s)).isoformat(),
            "end": (det.at + timedelta(seconds=analytics.clip.post_s)).isoformat(),
        }
    return Event(
        occurred_at=det.at,
        source_system=SourceSystem.edge,
        kind=det.kind,
        severity=severity,
        department=config.site.department,
        site=config.site.id,
        camera=camera.id,
        device=config.device,
        location=camera.location or config.site.location,
        attributes=attrs,
        media=[snapshot] if snapshot else [],
    )


def snapshot_ref(
    store: SnapshotStore, frame: np.ndarray, quality: int
) -> tuple[MediaRef, bytes]:
    """The saved snapshot's reference, and its JPEG bytes (for the upload to the hub)."""
    jpeg = encode_jpeg(frame, quality)
    sha = store.save(jpeg)
    ref = MediaRef(kind="snapshot", uri=store.uri(sha), sha256=sha, content_type="image/jpeg")
    return ref, jpeg
