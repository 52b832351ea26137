"""A camera's segment journal: append-only JSON lines, each chained to the one before.

Every line (a closed segment, a move to the archive, a deletion by retention, a hold)
carries ``prev`` (the previous line's ``link``) and ``link`` = sha256 of the line's
canonical JSON without ``link``. A closed segment's line holds the file's sha256, so
the chain covers the footage itself; the head (last link) is anchored in the audit
log's signed daily root, so rewriting the whole journal is caught as well.
Lines are fsync'd before the segment counts as recorded.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
JOURNAL = "index.jsonl"


def canonical(line: dict[str, Any]) -> bytes:
    body = {k: v for k, v in line.items() if k != "link"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def link_of(line: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(line)).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass(slots=True)
class Segment:
    """A recorded segment as the journal knows it now."""

    seq: int
    file: str  # absolute path of its current place
    start: float  # wall clock, seconds since the epoch
    end: float
    bytes: int
    sha256: str
    recovered: bool = False
    held: bool = False
    tier: str = "fast"

    def describe(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "start": self.start,
            "end": self.end,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "recovered": self.recovered,
            "held": self.held,
            "tier": self.tier,
        }


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The journal's lines; a torn last line (crash mid-append) is left out."""
    if not path.exists():
        return []
    out = []
    for raw in path.read_bytes().splitlines():
        try:
            out.append(json.loads(raw))
        except ValueError:
            continue
    return out


_SEQ = re.compile(rb'"seq"\s*:\s*(\d+)')


def segment_links(path: Path, seqs: set[int]) -> dict[int, str]:
    """The chain links of the segment lines ``seqs``: only those lines are parsed (a journal
    of 90 days holds hundreds of thousands)."""
    out: dict[int, str] = {}
    if not path.exists() or not seqs:
        return out
    with path.open("rb") as f:
        for raw in f:
            m = _SEQ.search(raw) if b"segment" in raw else None
            if m is None or int(m.group(1)) not in seqs:
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("kind") == "segment" and line.get("seq") in seqs:
                out[line["seq"]] = line.get("link")
    return out


def order_key(seg: Segment) -> tuple[float, int]:
    return seg.start, seg.seq


#: Which storage path a file is on (``Storage.owner``); ``None``: none that counts.
Owner = Callable[[str], Path | None]
#: A group of segments kept in order: (storage path, tier, held).
Group = tuple[Path | None, str, bool]


def no_owner(_file: str) -> Path | None:
    return None


@dataclass
class Ordered:
    """Segments kept sorted by (start, seq) and their byte total, updated one at a time:
    a new segment is appended at the end, a removal is a bisect and one memmove."""

    items: list[Segment] = field(default_factory=list)
    bytes: int = 0

    def add(self, seg: Segment) -> None:
        if not self.items or order_key(self.items[-1]) < order_key(seg):
            self.items.append(seg)
        else:
            bisect.insort(self.items, seg, key=order_key)
        self.bytes += seg.bytes

    def remove(self, seg: Segment) -> None:
        i = bisect.bisect_left(self.items, order_key(seg), key=order_key)
        if i < len(self.items) and self.items[i] is seg:
            del self.items[i]
            self.bytes -= seg.bytes

    def first_from(self, t: float) -> int:
        """Index of the first segment that starts at or after ``t``."""
        return bisect.bisect_left(self.items, t, key=lambda s: s.start)


@dataclass
class Journal:
    """One camera's journal (thread-safe appends) and the segments it describes."""

    camera_id: str
    path: Path
    segments: dict[int, Segment] = field(default_factory=dict)
    head: str = GENESIS
    next_seq: int = 0
    #: Standing holds (start, end): segments recorded later inside them are held too.
    hold_ranges: list[tuple[float, float]] = field(default_factory=list)
    owner: Owner = no_owner
    #: Every segment in time order, and the same split by (storage path, tier, held): what
    #: retention, the archive, quotas and playback look up without sorting or recounting.
    _all: Ordered = field(default_factory=Ordered)
    _groups: dict[Group, Ordered] = field(default_factory=dict)
    _longest: float = 0.0  # the longest segment's duration: how far back a lookup by time looks
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def open(cls, camera_id: str, directory: Path, owner: Owner = no_owner) -> Journal:
        directory.mkdir(parents=True, exist_ok=True)
        journal = cls(camera_id, directory / JOURNAL, owner=owner)
        for line in read_lines(journal.path):
            journal._apply(line)
        return journal

    def _group(self, seg: Segment) -> Group:
        return self.owner(seg.file), seg.tier, seg.held

    def _index(self, seg: Segment) -> None:
        self._all.add(seg)
        self._groups.setdefault(self._group(seg), Ordered()).add(seg)
        self._longest = max(self._longest, seg.end - seg.start)

    def _unindex(self, seg: Segment) -> None:
        self._all.remove(seg)
        group = self._group(seg)
        self._groups[group].remove(seg)
        if not self._groups[group].items:
            del self._groups[group]

    def _apply(self, line: dict[str, Any]) -> None:
        self.head = line.get("link", self.head)
        kind, seq = line.get("kind"), int(line.get("seq", -1))
        seg = self.segments.get(seq)
        if kind == "segment":
            if seg is not None:
                self._unindex(seg)
            start, end = line["start"], line["end"]
            held = any(a < end and start < b for a, b in self.hold_ranges)
            seg = Segment(seq, line["file"], start, end, line["bytes"], line["sha256"],
                          bool(line.get("recovered")), held)
            self.segments[seq] = seg
            self._index(seg)
            self.next_seq = max(self.next_seq, seq + 1)
        elif kind == "deleted" and seg is not None:
            self._unindex(self.segments.pop(seq))
        elif kind == "moved" and seg is not None:
            self._unindex(seg)
            seg.file, seg.tier = line["file"], line.get("tier", "archive")
            self._index(seg)
        elif kind == "hold" and seg is not None:
            self._unindex(seg)
            seg.held = bool(line.get("held"))
            self._index(seg)
        elif kind == "hold_range":
            span = (float(line["start"]), float(line["end"]))
            if line.get("held"):
                self.hold_ranges.append(span)
            else:
                self.hold_ranges = [
                    r for r in self.hold_ranges if r[1] <= span[0] or r[0] >= span[1]
                ]

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Chain, write and fsync one line; returns it."""
        with self._lock:
            if kind == "segment":
                fields["seq"] = self.next_seq
            line = {"kind": kind, "camera": self.camera_id, **fields, "prev": self.head}
            line["link"] = link_of(line)
            data = json.dumps(line, sort_keys=True, separators=(",", ":")).encode() + b"\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._apply(line)
            return line

    def add_segment(self, file: Path, start: float, end: float, recovered: bool = False) -> Segment:
        size = file.stat().st_size
        line = self.append(
            "segment",
            file=str(file),
            start=round(start, 3),
            end=round(end, 3),
            bytes=size,
            sha256=file_sha256(file),
            **({"recovered": True} if recovered else {}),
        )
        return self.segments[line["seq"]]

    def delete(self, seg: Segment, reason: str, remove: Callable[[Path], None]) -> bool:
        """``remove`` the file and journal its deletion, unless the segment is gone or was
        held in the meantime (a hold and a deletion never cross)."""
        with self._lock:
            if self.segments.get(seg.seq) is not seg or seg.held:
                return False
            remove(Path(seg.file))
            self.append("deleted", seq=seg.seq, file=seg.file, reason=reason)
            return True

    def ordered(self) -> list[Segment]:
        """Every segment in time order (a copy: the journal goes on changing)."""
        with self._lock:
            return list(self._all.items)

    def overlapping(self, start: float, end: float = float("inf")) -> list[Segment]:
        """The segments that overlap [start, end), in time order (a bisect, not a scan)."""
        with self._lock:
            items = self._all.items
            lo = self._all.first_from(start - self._longest)
            hi = self._all.first_from(end)
            return [s for s in items[lo:hi] if s.end > start]

    def oldest(
        self, which: Callable[[Group], bool], until: Callable[[Segment], bool]
    ) -> list[Segment]:
        """Segments of the groups ``which`` accepts, oldest first, up to (not including) the
        first one ``until`` accepts: a walk from the old end, never the whole journal."""
        with self._lock:
            lists = [g.items for key, g in self._groups.items() if which(key)]
            out = []
            for seg in heapq.merge(*lists, key=order_key):
                if until(seg):
                    break
                out.append(seg)
            return out

    def used(self) -> dict[Path, int]:
        """Bytes per storage path (files on no storage path left out)."""
        out: dict[Path, int] = {}
        with self._lock:
            for (path, _tier, _held), g in self._groups.items():
                if path is not None:
                    out[path] = out.get(path, 0) + g.bytes
        return out

    def summary(self) -> tuple[int, int, float | None, float | None]:
        """(segments, bytes, oldest start, newest segment's end)."""
        with self._lock:
            items = self._all.items
            if not items:
                return 0, 0, None, None
            return len(items), self._all.bytes, items[0].start, items[-1].end

    def groups(self) -> dict[Group, tuple[list[Segment], int]]:
        """Each group's segments (a copy) and bytes: what the tests recount."""
        with self._lock:
            return {key: (list(g.items), g.bytes) for key, g in self._groups.items()}

    def known_files(self) -> set[str]:
        return {s.file for s in self.segments.values()}
