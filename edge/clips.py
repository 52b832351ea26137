"""Event clips cut on the box by streams/ (pre-event buffer + post-event seconds, no re-encode).

A detection's event is committed at once (alerts must not wait for video); its
clip follows as a separate evidence event ``clip`` whose ``media`` holds the MP4
(``GET /clips/<sha256>.mp4`` on the box, sha256 pinned) and whose
``attributes.events`` lists the ids of the events it covers; the MP4 itself is
uploaded to the hub with it (``uplink.upload_media``). Detections that
arrive while a clip of the same camera is being recorded join that clip instead
of starting another, so a burst of crossings costs one clip.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.model import Event, MediaRef
from core.model import SourceSystem
from edge.config import EdgeCameraConfig, EdgeConfig
from streams.recorder.clips import ClipError, record_clip

log = logging.getLogger(__name__)


class ClipCutter:
    def __init__(
        self,
        config: EdgeConfig,
        directory: Path,
        base_url: str,
        submit: Callable[..., None],
    ) -> None:
        self.config = config
        self.dir = directory
        self.base_url = base_url.rstrip("/")
        self.submit = submit
        self._pending: dict[str, list[str]] = {}  # camera -> event ids of the running clip
        self.failures = 0

    def path(self, sha256: str) -> Path:
        return self.dir / f"{sha256}.mp4"

    def request(self, cam: EdgeCameraConfig, stream: Any, event_ids: list[str]) -> None:
        """On the loop: cover ``event_ids`` with the running clip of ``cam`` or start one."""
        if cam.id in self._pending:
            self._pending[cam.id] += event_ids
            return
        self._pending[cam.id] = list(event_ids)
        asyncio.ensure_future(self._cut(cam, stream))

    async def _cut(self, cam: EdgeCameraConfig, stream: Any) -> None:
        assert cam.analytics is not None
        spec = cam.analytics.clip
        try:
            clip = await record_clip(stream, self.dir / "tmp", spec.pre_s, spec.post_s)
        except (ClipError, OSError) as exc:
            self.failures += 1
            log.warning("%s: clip failed (events keep their clip_request): %s", cam.id, exc)
            self._pending.pop(cam.id, None)
            return
        ids = self._pending.pop(cam.id, [])
        os.replace(clip.path, self.path(clip.sha256))  # content-addressed, like snapshots
        event = Event(
            occurred_at=datetime.now(UTC),
            source_system=SourceSystem.edge,
            kind="clip",
            department=self.config.site.department,
            site=self.config.site.id,
            camera=cam.id,
            device=self.config.device,
            attributes={
                "events": ids,
                "duration_s": round(clip.duration_s, 3),
                "frames": clip.frames,
                "bytes": clip.size,
            },
            media=[
                MediaRef(
                    kind="clip",
                    uri=f"{self.base_url}/clips/{clip.sha256}.mp4",
                    sha256=clip.sha256,
                    content_type="video/mp4",
                )
            ],
        )
        path = self.path(clip.sha256)
        try:
            await asyncio.to_thread(
                lambda: self.submit([event], media=[(clip.sha256, path.read_bytes())])
            )
        except Exception:
            log.exception("%s: clip event could not be stored", cam.id)
