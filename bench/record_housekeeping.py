"""Recording housekeeping at city retention: ``python -m bench.record_housekeeping``.

Journals of a few cameras holding 30 days of 10 s segments each (written as journal
files and opened as a relay does at start), then one housekeeping pass of the
RecordingService (retention, archive, quotas; nothing due) timed beside the pass it
replaced (a full sort of each camera's segments and a walk of all of them for the disk
use), and a playback lookup (a minute at a random instant) by bisect beside a scan.
No media: the files are never touched by a pass with nothing due.

The run is invalid (exit 1, no figures kept) when a journal did not load every segment written,
when a pass had work due (it removed segments: not the pass the figure is about), or when a
bisect lookup returned other segments than the scan: a fast wrong answer is no figure.

    python -m bench.record_housekeeping [--cameras 4] [--days 30]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from bench.report import finish
from streams.recording.config import RecordingConfig
from streams.recording.journal import JOURNAL, Journal
from streams.recording.recorder import CameraRecorder
from streams.recording.service import RecordingService

DAY = 86400
SEGMENT_S = 10
SEGMENT_BYTES = 2_500_000  # 10 s at 2 Mb/s


@dataclass
class Housekept:
    """What housekeeping reads of a recorder (the media side is not needed here)."""

    camera_id: str
    journal: Journal
    blocked: str | None = None


def write_journal(directory: Path, camera: str, disk: Path, days: float, now: float) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    n = int(days * DAY / SEGMENT_S)
    with (directory / JOURNAL).open("w") as f:
        for i in range(n):
            start = now - days * DAY + i * SEGMENT_S
            line = {"kind": "segment", "camera": camera, "seq": i, "start": start,
                    "end": start + SEGMENT_S, "bytes": SEGMENT_BYTES, "sha256": "0" * 64,
                    "file": f"{disk}/{camera}/{time.strftime('%Y%m%d', time.gmtime(start))}/"
                            f"{camera}-{int(start)}.mp4"}
            f.write(json.dumps(line, separators=(",", ":")) + "\n")


def full_pass(service: RecordingService, now: float) -> None:
    """The pass as it was: every camera's segments sorted, then all walked for disk use."""
    for rec in service.recorders.values():
        horizon = now - service._retention_s(rec.camera_id)
        for seg in sorted(rec.journal.segments.values(), key=lambda s: s.start):
            if seg.end >= horizon:
                break
    used: dict[Path, int] = {}
    for rec in service.recorders.values():
        for seg in rec.journal.segments.values():
            root = service.storage.owner(seg.file)
            if root is not None:
                used[root] = used.get(root, 0) + seg.bytes


def scan(journal: Journal, at: float, span: float) -> list[Any]:
    """A lookup as it was: the camera's segments sorted, then filtered."""
    ordered = sorted(journal.segments.values(), key=lambda s: s.start)
    return [s for s in ordered if s.end > at and s.start < at + span]


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def timed_ms(fn: Any, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def lookups_differ(journal: Journal, spots: list[float]) -> int:
    """How many of the instants the bisect lookup answers differently from the scan."""
    return sum(journal.overlapping(t, t + 60) != scan(journal, t, 60) for t in spots)


def measure(cameras: int = 4, days: float = 30.0, passes: int = 5,
            retention_days: float | None = None) -> tuple[dict[str, Any], list[str]]:
    """The figures and the problems found. Retention is past the oldest segment (nothing
    due) unless ``retention_days`` says otherwise."""
    keep = days + 1 if retention_days is None else retention_days
    with tempfile.TemporaryDirectory(prefix="bench-housekeeping-") as d:
        tmp = Path(d)
        disk = tmp / "rec"
        cfg = RecordingConfig(paths=[str(disk)], retention_days=keep, min_free_gb=0)
        service = RecordingService(cfg, tmp, {}, lambda _k, _m: None)
        service.storage.prepare()
        now = time.time()
        names = [f"c{c:02d}" for c in range(cameras)]
        for cam in names:
            write_journal(tmp / "journals" / cam, cam, disk, days, now)
        rss0, t0 = rss_mb(), time.perf_counter()  # the opening alone, as a relay starts
        for cam in names:
            journal = Journal.open(cam, tmp / "journals" / cam, service.storage.owner)
            service.recorders[cam] = cast(CameraRecorder, Housekept(cam, journal))
        open_s = (time.perf_counter() - t0) / cameras
        memory = (rss_mb() - rss0) / cameras
        segments = sum(len(r.journal.segments) for r in service.recorders.values())
        new_ms = timed_ms(service.housekeep, passes)
        removed = segments - sum(len(r.journal.segments) for r in service.recorders.values())
        old_ms = timed_ms(lambda: full_pass(service, now), passes)
        journal = service.recorders["c00"].journal
        spots = iter([now - random.uniform(0, days * DAY) for _ in range(100)])
        lookup_ms = timed_ms(lambda: journal.overlapping(t := next(spots), t + 60), 50)
        scan_ms = timed_ms(lambda: scan(journal, next(spots), 60), 20)
        wrong = lookups_differ(journal, [now - random.uniform(0, days * DAY) for _ in range(50)])
    written = cameras * int(days * DAY / SEGMENT_S)
    problems = [m for bad, m in (
        (segments != written, f"journals loaded {segments} of {written} segments written"),
        (removed > 0, f"a pass had work due: it removed {removed} segments"),
        (wrong > 0, f"{wrong} of 50 bisect lookups differ from the scan"),
    ) if bad]
    return {
        "days": days,
        "housekeeping_cameras": cameras,
        "housekeeping_segments_per_camera": segments // cameras,
        "housekeeping_ms_30d": round(new_ms, 3),
        "housekeeping_full_sort_ms_30d": round(old_ms, 1),
        "playback_lookup_ms_30d": round(lookup_ms, 3),
        "playback_lookup_scan_ms_30d": round(scan_ms, 1),
        "journal_open_s_30d_per_camera": round(open_s, 2),
        "journal_mb_30d_per_camera": round(memory, 1),
    }, problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cameras", type=int, default=4)
    p.add_argument("--days", type=float, default=30.0)
    p.add_argument("--retention-days", type=float,
                   help="retention of the service (default: past the oldest segment, nothing due)")
    a = p.parse_args(argv)
    return finish("record_housekeeping", *measure(a.cameras, a.days,
                                                   retention_days=a.retention_days))


if __name__ == "__main__":
    sys.exit(main())
