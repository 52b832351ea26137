"""A camera's segment journal: append-only JSON lines, each chained to the one before.

Every line (a closed segment, a move to the archive, a deletion by retention, a hold)
carries ``prev`` (the previous line's ``link``) and ``link`` = sha256 of the line's
canonical JSON without ``link``. A closed segment's line holds the file's sha256, so
the chain covers the footage itself; the head (last link) is anchored in the audit
log's signed daily root, so rewriting the whole journal is caught as well.
Lines are fsync'd before the segment counts as recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
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


@dataclass
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
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, camera_id: str, directory: Path) -> Journal:
        directory.mkdir(parents=True, exist_ok=True)
        journal = cls(camera_id, directory / JOURNAL)
        for line in read_lines(journal.path):
            journal._apply(line)
        return journal

    def _apply(self, line: dict[str, Any]) -> None:
        self.head = line.get("link", self.head)
        kind, seq = line.get("kind"), int(line.get("seq", -1))
        if kind == "segment":
            self.segments[seq] = Segment(
                seq,
                line["file"],
                line["start"],
                line["end"],
                line["bytes"],
                line["sha256"],
                bool(line.get("recovered")),
            )
            self.next_seq = max(self.next_seq, seq + 1)
        elif kind == "deleted":
            self.segments.pop(seq, None)
        elif kind == "moved" and seq in self.segments:
            self.segments[seq].file = line["file"]
            self.segments[seq].tier = line.get("tier", "archive")
        elif kind == "hold" and seq in self.segments:
            self.segments[seq].held = bool(line.get("held"))
        elif kind == "hold_range":
            span = (float(line["start"]), float(line["end"]))
            if line.get("held"):
                self.hold_ranges.append(span)
            else:
                self.hold_ranges = [
                    r for r in self.hold_ranges if r[1] <= span[0] or r[0] >= span[1]
                ]
        if kind == "segment" and any(
            a < line["end"] and line["start"] < b for a, b in self.hold_ranges
        ):
            self.segments[seq].held = True

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

    def ordered(self) -> list[Segment]:
        return sorted(self.segments.values(), key=lambda s: s.start)

    def known_files(self) -> set[str]:
        return {s.file for s in self.segments.values()}
