"""Recording on one relay node: a recorder per recorded camera, reconciled on start, and
a housekeeping tick that applies schedules, retention, quotas and free-space limits.

Disk full never silently stops recording: the oldest footage that is not held goes
first (with an alarm); only when nothing may be deleted do recorders stop (alarm), and
they start again by themselves once space returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.periodic import every
from streams.core.stream import CameraStream
from streams.recording.config import CameraRecording, RecordingConfig
from streams.recording.journal import Group, Journal, Segment, order_key
from streams.recording.layout import Layout
from streams.recording.reconcile import Reconciled, reconcile
from streams.recording.recorder import CameraRecorder
from streams.recording.storage import MARKER, Storage

log = logging.getLogger(__name__)

TICK_S = 1.0
GB = 1024**3


def copy_synced(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".part")
    shutil.copyfile(src, tmp)
    with tmp.open("rb+") as f:
        os.fsync(f.fileno())
    tmp.rename(dst)


def _not_held(group: Group) -> bool:
    return not group[2]


def _not_archived(group: Group) -> bool:
    return group[1] != "archive"


def _ends_after(t: float) -> Callable[[Segment], bool]:
    return lambda seg: seg.end >= t


def _makes_up(need: int) -> Callable[[Segment], bool]:
    """True from the first segment after those that add up to ``need`` bytes."""
    total = 0

    def enough(seg: Segment) -> bool:
        nonlocal total
        total += seg.bytes
        return total - seg.bytes >= need

    return enough


class RecordingService:
    def __init__(
        self,
        settings: RecordingConfig,
        default_root: Path,
        departments: dict[str, str],
        on_alarm: Callable[[str, str], None],
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self.settings = settings
        self.layout = Layout.of(settings, default_root)
        self.storage = Storage(
            self.layout.paths,
            {p: int(gb * GB) for p, gb in settings.quota_gb.items()},
            int(settings.min_free_gb * GB),
        )
        self.departments = departments  # camera id -> department id
        self.on_alarm = on_alarm
        self.zone = ZoneInfo(timezone)
        self.recorders: dict[str, CameraRecorder] = {}
        self.reconciled: dict[str, Reconciled] = {}
        self.deleted = 0  # segments removed by retention or for space
        self.alarms: dict[str, int] = {}  # alarms raised, by kind
        self._gone: set[Path] = set()  # storage paths found unusable (alarm raised)
        self._task: asyncio.Task[None] | None = None

    async def start(self, streams: dict[str, CameraStream]) -> None:
        self.storage.prepare()
        archive = self.layout.archive
        if archive is not None and archive.is_dir():  # a mount that is there at start
            (archive / MARKER).touch()
        for camera_id, policy in self.settings.cameras.items():
            stream = streams.get(camera_id)
            if stream is not None and policy.mode != "off":
                await self._open(stream, policy)
        self.tick()
        self._task = asyncio.create_task(self._run(), name="recording")

    async def _open(self, stream: CameraStream, policy: CameraRecording) -> CameraRecorder:
        camera_id = stream.camera_id
        journal = Journal.open(camera_id, self.layout.journal_dir(camera_id), self.storage.owner)
        self.reconciled[camera_id] = await asyncio.to_thread(
            reconcile, journal, self.layout.camera_dirs(camera_id)
        )
        rec = CameraRecorder(stream, policy, self.settings, self.storage, journal, self._alarm)
        self.recorders[camera_id] = rec
        return rec

    async def set_policy(
        self, stream: CameraStream, policy: CameraRecording, department: str
    ) -> CameraRecorder | None:
        """A policy from the hub's store, on a running relay: a recorder is opened, changed
        or (mode ``off``) stopped; the config's policies always win. The new recorder if one
        was opened."""
        camera_id = stream.camera_id
        if camera_id in self.settings.cameras:
            return None
        self.departments[camera_id] = department
        rec = self.recorders.get(camera_id)
        if rec is not None and rec.stream is not stream:  # pulled again: a new upstream actor
            await self.drop(camera_id)
            rec = None
        opened = None
        if rec is None:
            if policy.mode == "off":
                return None
            rec = opened = await self._open(stream, policy)
            log.info("%s: recording policy %s (from the store)", camera_id, policy.mode)
        elif rec.policy != policy:
            rec.set_policy(policy)
            log.info("%s: recording policy now %s", camera_id, policy.mode)
        self.tick()
        return opened

    async def drop(self, camera_id: str) -> None:
        """The camera is no longer pulled here: its open segment is closed and indexed."""
        rec = self.recorders.pop(camera_id, None)
        if rec is not None:
            await rec.close()

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        await asyncio.gather(*(rec.close() for rec in list(self.recorders.values())))

    def _alarm(self, kind: str, message: str) -> None:
        log.error("recording alarm %s: %s", kind, message)
        self.alarms[kind] = self.alarms.get(kind, 0) + 1
        self.on_alarm(kind, message)

    async def _run(self) -> None:
        await every(TICK_S, self._round, "recording housekeeping")

    async def _round(self) -> None:
        await asyncio.to_thread(self.housekeep)
        self.tick()

    def tick(self) -> None:
        """Apply policies on the event loop: start, stop and restart branches."""
        now = datetime.now(self.zone)
        for rec in list(self.recorders.values()):
            if rec.enabled and rec._branch is not None and rec._branch.failed:
                rec.restart_branch()
            elif rec._branch is not None:
                rec._branch.poll()  # a slow disk's backlog written: stop dropping frames
            rec.set_enabled(rec.wants(now))

    # -- housekeeping (worker thread) ----------------------------------------------
    def housekeep(self) -> None:
        self._watch_paths()
        now = time.time()
        self._apply_retention(now)
        self._archive(now)
        self._make_room()

    def _watch_paths(self) -> None:
        """Alarm once when a storage path goes away (and log its return); new segments go to
        the paths still usable."""
        for path in self.storage.paths:
            usable = self.storage.usable(path)
            if not usable and path not in self._gone:
                self._gone.add(path)
                self._alarm("storage_unavailable", f"{path}: storage path is gone or read-only")
            elif usable and path in self._gone:
                self._gone.discard(path)
                log.info("recording: storage path %s is back", path)

    def _retention_s(self, camera_id: str) -> float:
        dept = self.departments.get(camera_id, "")
        days = self.settings.department_retention_days.get(dept, self.settings.retention_days)
        return days * 86400

    def _delete(self, rec: CameraRecorder, seg: Segment, reason: str) -> bool:
        deleted = rec.journal.delete(seg, reason, lambda p: p.unlink(missing_ok=True))
        self.deleted += deleted
        return deleted

    def _apply_retention(self, now: float) -> None:
        for rec in list(self.recorders.values()):
            horizon = now - self._retention_s(rec.camera_id)
            for seg in rec.journal.oldest(_not_held, _ends_after(horizon)):
                self._delete(rec, seg, "retention")

    def _archive(self, now: float) -> None:
        """Move segments older than ``archive_after_h`` from the fast paths to the archive
        (copy, fsync, journal, then delete the original: a crash never loses one)."""
        archive = self.layout.archive
        if archive is None or not self.storage.usable(archive):
            return
        horizon = now - self.settings.archive_after_h * 3600
        for rec in list(self.recorders.values()):
            for seg in rec.journal.oldest(_not_archived, _ends_after(horizon)):
                src = Path(seg.file)
                dst = archive / src.relative_to(self.storage.owner(seg.file) or src.parent)
                try:
                    copy_synced(src, dst)
                except OSError as exc:
                    self._alarm("archive_failed", f"{rec.camera_id}: {src.name}: {exc}")
                    return
                rec.journal.append("moved", seq=seg.seq, file=str(dst), tier="archive")
                src.unlink(missing_ok=True)

    def used(self) -> dict[Path, int]:
        """Bytes per storage path (the journals keep the totals as they change)."""
        out: dict[Path, int] = {}
        for rec in list(self.recorders.values()):
            for path, size in rec.journal.used().items():
                out[path] = out.get(path, 0) + size
        return out

    def _short(self, path: Path, used: int) -> int:
        """Bytes to free on ``path`` (free-space floor and quota)."""
        need = max(0, self.storage.min_free - self.storage.free(path))
        quota = self.storage.quota_bytes.get(str(path))
        if quota is not None:
            need = max(need, used - quota)
        return need

    def _make_room(self) -> None:
        """Free space on every usable path; recording stops only when no usable path has
        room and nothing more may be deleted."""
        used = self.used()
        full = []
        usable = [p for p in self.storage.paths if self.storage.usable(p)]
        for path in usable:
            need = self._short(path, used.get(path, 0))
            if need <= 0:
                continue
            freed = self._free(path, need)
            if freed:
                self._alarm("disk_near_full", f"{path}: deleted {freed} bytes of oldest footage")
            if self._short(path, used.get(path, 0) - freed) > 0:
                full.append(path)
        if not usable:
            self._set_blocked("no storage path is available")
        elif len(full) == len(usable):
            self._set_blocked("no space may be freed: all footage left is held")
        else:
            self._set_blocked(None)

    def _free(self, path: Path, need: int) -> int:
        """Delete the oldest segments on ``path`` that are not held until ``need`` bytes go:
        each camera's oldest that make up ``need``, then the oldest of them all."""
        candidates: list[tuple[tuple[float, int], Segment, CameraRecorder]] = []
        for rec in list(self.recorders.values()):
            deletable = rec.journal.oldest(lambda g: g[0] == path and not g[2], _makes_up(need))
            candidates.extend((order_key(seg), seg, rec) for seg in deletable)
        freed = 0
        for _key, seg, rec in sorted(candidates, key=lambda c: c[0]):
            if freed >= need:
                break
            if self._delete(rec, seg, "space"):
                freed += seg.bytes
        return freed

    def _set_blocked(self, reason: str | None) -> None:
        for rec in list(self.recorders.values()):
            if rec.blocked != reason:
                if reason is not None:
                    self._alarm("recording_stopped", f"{rec.camera_id}: {reason}")
                else:
                    log.info("%s: space available again, recording resumes", rec.camera_id)
                rec.blocked = reason

    def health(self) -> dict[str, object]:
        return {
            "cameras": {cid: rec.health() for cid, rec in self.recorders.items()},
            "storage": self.storage.describe(self.used()),
            "deleted_segments": self.deleted,
            "alarms": dict(self.alarms),
        }
