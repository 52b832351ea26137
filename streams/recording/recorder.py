"""One camera's recorder: holds the camera pulled while its policy says record, puts a
recording branch on each upstream session, and journals every closed segment.

A camera reconnect ends the session's segment (closed properly) and the next session
starts a new one: the time between is a gap in the index, as it was on the camera.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from streams.core.stream import CameraStream, Lease
from streams.core.upstream import UpstreamSession
from streams.recording.branch import RecordingBranch
from streams.recording.config import CameraRecording, RecordingConfig
from streams.recording.journal import Journal, Segment
from streams.recording.salvage import recover
from streams.recording.storage import Storage

log = logging.getLogger(__name__)


@dataclass
class RecorderStats:
    bytes_written: int = 0
    segments: int = 0
    failures: int = 0
    last_error: str | None = None
    counters: dict[str, int] = field(default_factory=dict)


def segment_name(camera_id: str, when: float) -> str:
    stamp = datetime.fromtimestamp(when, UTC).strftime("%Y%m%dT%H%M%S.%f")[:-3]
    return f"{camera_id}-{stamp}Z.mp4"


def segment_time(name: str) -> float | None:
    """The start time a segment's file name carries (None: not a segment name)."""
    try:
        stamp = name.rsplit("-", 1)[1].removesuffix("Z.mp4")
        return datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC).timestamp()
    except (IndexError, ValueError):
        return None


class CameraRecorder:
    def __init__(
        self,
        stream: CameraStream,
        policy: CameraRecording,
        settings: RecordingConfig,
        storage: Storage,
        journal: Journal,
        on_alarm: Callable[[str, str], None],
    ) -> None:
        self.stream = stream
        self.camera_id = stream.camera_id
        self.policy = policy
        self.settings = settings
        self.storage = storage
        self.journal = journal
        self.on_alarm = on_alarm  # (kind, message)
        self.stats = RecorderStats()
        self.enabled = False  # the policy wants a recording now
        self.blocked: str | None = None  # why recording cannot go on (no space may be freed)
        self._lease: Lease | None = None
        self._branch: RecordingBranch | None = None
        self._lock = threading.Lock()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix=f"rec-{self.camera_id}")
        stream.add_session_listener(self._on_session)
        # Event recording takes its pre-event seconds from the ring: the camera stays pulled.
        self._ring_lease = stream.acquire("recording") if policy.mode == "events" else None

    # -- policy ----------------------------------------------------------------
    def set_policy(self, policy: CameraRecording) -> None:
        """A new policy on a running relay (from the hub's store); the next tick applies it.
        Event mode keeps the camera pulled for its ring; other modes let it go."""
        self.policy = policy
        if policy.mode == "events" and self._ring_lease is None:
            self._ring_lease = self.stream.acquire("recording")
        elif policy.mode != "events" and self._ring_lease is not None:
            self._ring_lease.release()
            self._ring_lease = None

    def wants(self, now: datetime) -> bool:
        mode = self.policy.mode
        if mode == "continuous":
            return True
        if mode == "schedule":
            return any(w.covers(now) for w in self.policy.schedule)
        return False  # events: segments come from record_event

    def set_enabled(self, enabled: bool) -> None:
        """Start or stop the continuous branch (policy, schedule, space); event loop."""
        enabled = enabled and self.blocked is None
        if enabled == self.enabled:
            return
        self.enabled = enabled
        if enabled:
            self._lease = self.stream.acquire("recording")  # pulled with no viewer at all
            session = self.stream._session
            if session is not None and session.tee is not None:
                self._on_session(session)
        else:
            branch, self._branch = self._branch, None
            if branch is not None:
                asyncio.get_running_loop().run_in_executor(None, branch.detach)
            if self._lease is not None:
                self._lease.release()
                self._lease = None

    @property
    def recording(self) -> bool:
        branch = self._branch
        return self.enabled and branch is not None and not branch.failed

    # -- sessions (GStreamer threads) -------------------------------------------
    def _on_session(self, session: UpstreamSession) -> None:
        with self._lock:
            if not self.enabled:
                return
            branch = RecordingBranch(
                session,
                self._next_file,
                self._closed,
                self._failed,
                self.settings.segment_s,
                self.settings.fragment_ms,
            )
            self._branch = branch
            branch.attach()

    def _next_file(self) -> Path:
        now = time.time()
        root = self.storage.pick()
        day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
        return root / self.camera_id / day / segment_name(self.camera_id, now)

    def _closed(self, path: Path, start: float, end: float) -> None:
        try:
            self._writer.submit(self._journal_segment, path, start, end)
        except RuntimeError:  # shutting down: index it here, it must not be lost
            self._journal_segment(path, start, end)

    def _journal_segment(self, path: Path, start: float, end: float) -> None:
        try:
            seg = self.journal.add_segment(path, start, end)
        except OSError as exc:
            self._failed(f"cannot index segment {path.name}: {exc}")
            return
        self.stats.bytes_written += seg.bytes
        self.stats.segments += 1

    def _failed(self, message: str) -> None:
        self.stats.failures += 1
        self.stats.last_error = message
        log.error("%s: recording failed: %s", self.camera_id, message)
        self.on_alarm("recording_failed", f"{self.camera_id}: {message}")

    def add_event_segment(self, path: Path, start: float, end: float) -> Segment:
        seg = self.journal.add_segment(path, start, end)
        self.stats.bytes_written += seg.bytes
        self.stats.segments += 1
        return seg

    def restart_branch(self) -> None:
        """After a write failure: keep what the broken segment holds, then a fresh branch on
        the running session (event loop)."""
        branch = self._branch
        if branch is not None:
            self._writer.submit(self._salvage, list(branch.open_files()))
        if self.enabled:
            self.set_enabled(False)
            self.set_enabled(True)

    def _salvage(self, files: list[tuple[Path, float]]) -> None:
        for path, start in files:
            try:
                duration = recover(path) if path.exists() else None
            except OSError as exc:
                log.error("%s: cannot salvage %s: %s", self.camera_id, path.name, exc)
                continue
            if duration is None:
                path.unlink(missing_ok=True)
            else:
                self.journal.add_segment(path, start, start + duration, recovered=True)

    async def close(self) -> None:
        """Close the open segment properly and index it (relay shutdown, camera dropped)."""
        self.stream.remove_session_listener(self._on_session)
        branch, self._branch = self._branch, None
        self.enabled = False
        if branch is not None:
            await asyncio.to_thread(branch.finish)
        for lease in (self._lease, self._ring_lease):
            if lease is not None:
                lease.release()
        self._lease = self._ring_lease = None
        await asyncio.to_thread(self._writer.shutdown, True)

    def health(self) -> dict[str, object]:
        count, size, oldest, newest = self.journal.summary()
        return {
            "mode": self.policy.mode,
            "recording": self.recording,
            "blocked": self.blocked,
            "segments": count,
            "bytes": size,
            "oldest": oldest,
            "newest": newest,
            "last_error": self.stats.last_error,
            "dropped": self._branch.dropped if self._branch is not None else 0,
        }
