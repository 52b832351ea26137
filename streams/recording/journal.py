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
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

GENESIS = "0" * 64
bytes_ = bytes  # (Segment's field ``bytes`` shadows the type in its __init__)
JOURNAL = "index.jsonl"


def canonical(line: dict[str, Any]) -> bytes:
    body = {k: v for k, v in line.items() if k != "link"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def link_of(line: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(line)).hexdigest()


def file_sha256(path: Path) -> str:
    """The file's sha256 (hashlib.file_digest reads into one reused buffer: no allocation,
    and no page faults, per chunk of a segment's megabytes)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class Segment:
    """A recorded segment as the journal knows it now.

    A camera holds hundreds of thousands (30-90 days of 10 s segments), so each is kept
    compact: no ``__dict__``, the file's folder shared by the segments of that folder
    (``sys.intern``), the sha256 as its 32 bytes; ``file`` and ``sha256`` read as before."""

    __slots__ = ("seq", "_dir", "_name", "start", "end", "bytes", "_sha", "recovered", "held",
                 "tier")
    _sha: bytes | str  # the digest, or the text as written when it is not 64 hex digits

    def __init__(self, seq: int, file: str, start: float, end: float, bytes: int,  # noqa: A002
                 sha256: str, recovered: bool = False, held: bool = False,
                 tier: str = "fast") -> None:
        self.seq = seq
        cut = file.rfind("/") + 1  # (the setters', inlined: a journal opens 10^5 of these)
        self._dir, self._name = sys.intern(file[:cut]), file[cut:]
        self.start = start  # wall clock, seconds since the epoch
        self.end = end
        self.bytes = bytes
        try:
            self._sha = bytes_.fromhex(sha256) if len(sha256) == 64 else sha256
        except ValueError:  # not hex: kept as it was written
            self._sha = sha256
        self.recovered = recovered
        self.held = held
        self.tier = sys.intern(tier)

    @property
    def folder(self) -> str:
        """The file's folder, with its trailing separator (shared, interned)."""
        return self._dir

    @property
    def file(self) -> str:
        """Absolute path of its current place."""
        return self._dir + self._name

    @file.setter
    def file(self, value: str) -> None:
        cut = value.rfind("/") + 1
        self._dir, self._name = sys.intern(value[:cut]), value[cut:]

    @property
    def sha256(self) -> str:
        sha = self._sha
        return sha.hex() if isinstance(sha, bytes) else sha

    @sha256.setter
    def sha256(self, value: str) -> None:
        try:
            self._sha = bytes.fromhex(value) if len(value) == 64 else value
        except ValueError:  # not hex: kept as it was written
            self._sha = value

    def _fields(self) -> tuple[Any, ...]:
        return (self.seq, self.file, self.start, self.end, self.bytes, self.sha256,
                self.recovered, self.held, self.tier)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Segment) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it was

    def __repr__(self) -> str:
        names = ("seq", "file", "start", "end", "bytes", "sha256", "recovered", "held", "tier")
        return "Segment(" + ", ".join(f"{n}={v!r}" for n, v in zip(names, self._fields(),
                                                                 strict=True)) + ")"

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


def iter_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The journal's lines, one at a time; a torn last line (crash mid-append) is left out."""
    if not path.exists():
        return
    with path.open("rb") as f:
        for raw in f:
            try:
                yield orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The journal's lines; a torn last line (crash mid-append) is left out."""
    return list(iter_lines(path))


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
    _owners: dict[str, Path | None] = field(default_factory=dict)  # folder -> storage path
    _loading: bool = False  # reading the file: the views are built once, at the end

    @classmethod
    def open(cls, camera_id: str, directory: Path, owner: Owner = no_owner) -> Journal:
        directory.mkdir(parents=True, exist_ok=True)
        journal = cls(camera_id, directory / JOURNAL, owner=owner, _loading=True)
        for line in iter_lines(journal.path):  # one at a time: never the whole file parsed
            journal._apply(line)
        journal._reindex()
        return journal

    def _reindex(self) -> None:
        """Build the views from the segments in one sort (the file is nearly in time order,
        so the sort is a pass), instead of line by line."""
        items = sorted(self.segments.values(), key=order_key)
        self._all = Ordered(items, sum(s.bytes for s in items))
        self._groups = {}
        by_folder: dict[tuple[str, str, bool], Ordered] = {}  # str keys hash once
        for seg in items:
            group = by_folder.get(fast := (seg.folder, seg.tier, seg.held))
            if group is None:
                group = self._groups.setdefault(self._group(seg), Ordered())
                by_folder[fast] = group
            group.items.append(seg)
            group.bytes += seg.bytes
        self._longest = max((s.end - s.start for s in items), default=0.0)
        self._loading = False

    def _group(self, seg: Segment) -> Group:
        """Its group; the storage path is looked up once per folder (a path owns folders)."""
        try:
            path = self._owners[seg.folder]
        except KeyError:
            path = self._owners[seg.folder] = self.owner(seg.file)
        return path, seg.tier, seg.held

    def _index(self, seg: Segment) -> None:
        if self._loading:
            return
        self._all.add(seg)
        self._groups.setdefault(self._group(seg), Ordered()).add(seg)
        self._longest = max(self._longest, seg.end - seg.start)

    def _unindex(self, seg: Segment) -> None:
        if self._loading:
            return
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
            held = bool(self.hold_ranges) and any(
                a < end and start < b for a, b in self.hold_ranges
            )
            seg = Segment(seq, line["file"], start, end, line["bytes"], line["sha256"],
                          bool(line.get("recovered")), held)
            self.segments[seq] = seg
            self._index(seg)
            self.next_seq = max(self.next_seq, seq + 1)
        elif kind == "deleted" and seg is not None:
            self._unindex(self.segments.pop(seq))
        elif kind == "moved" and seg is not None:
            self._unindex(seg)
            seg.file, seg.tier = line["file"], sys.intern(line.get("tier", "archive"))
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
