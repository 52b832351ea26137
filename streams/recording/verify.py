"""Check a camera's recordings against its journal: which segment was altered, deleted,
inserted or reordered, by name.

- the journal itself: every line's link must be the hash of its content and its
  ``prev`` the link before it; a broken link says which line was edited, removed,
  slipped in or moved (by sequence numbers, which the chain covers);
- the files: each live segment's file must exist with its journaled sha256; a file
  holding another segment's content is a reordering; an ``.mp4`` the journal does not
  know is an insertion;
- an anchored head (from the audit log's signed root) must still be in the journal,
  else the journal was rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.recording.journal import GENESIS, JOURNAL, Journal, file_sha256, link_of, read_lines


@dataclass
class Problem:
    kind: str  # altered | deleted | inserted | reordered
    what: str  # the segment file or journal line
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "what": self.what, "detail": self.detail}


@dataclass
class Report:
    camera_id: str
    segments: int = 0
    head: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "camera": self.camera_id,
            "ok": self.ok,
            "segments": self.segments,
            "head": self.head,
            "problems": [p.as_dict() for p in self.problems],
        }


def _name(i: int, line: dict[str, Any]) -> str:
    file = Path(str(line.get("file", ""))).name
    return (
        f"journal line {i + 1} ({line.get('kind')} {line.get('seq')}{': ' + file if file else ''})"
    )


def _check_chain(lines: list[dict[str, Any]], report: Report) -> None:
    """Follow the chain from the genesis: lines it passes in another order were reordered,
    lines it cannot reach were inserted or lost their predecessor (deleted)."""
    intact = [i for i, line in enumerate(lines) if link_of(line) == line.get("link")]
    for i, line in enumerate(lines):
        if i not in intact:
            report.problems.append(Problem("altered", _name(i, line), "index entry edited"))
    after: dict[Any, int] = {}
    for i in intact:  # on a fork the first entry is the chain, the later one inserted
        after.setdefault(lines[i].get("prev"), i)
    known = {line.get("link") for line in lines}
    heads = [GENESIS] + [
        str(lines[i].get("prev")) for i in intact if lines[i].get("prev") not in known | {GENESIS}
    ]
    order: list[int] = []
    for n, head in enumerate(heads):
        if n:  # the chain breaks here: what came before this entry was removed
            i = after[head]
            report.problems.append(
                Problem("deleted", f"before {_name(i, lines[i])}", "index entries removed")
            )
        prev = head
        while prev in after:
            i = after.pop(prev)
            order.append(i)
            prev = str(lines[i].get("link"))
    if order != sorted(order):
        for pos, i in enumerate(order):
            if (pos > 0 and i < order[pos - 1]) or (pos + 1 < len(order) and i > order[pos + 1]):
                report.problems.append(
                    Problem("reordered", _name(i, lines[i]), f"chained as entry {pos + 1}")
                )
    for i in sorted(set(intact) - set(order)):
        report.problems.append(Problem("inserted", _name(i, lines[i]), "a second chain branch"))
    seqs = sorted(int(x.get("seq", -1)) for x in lines if x.get("kind") == "segment")
    for a, b in zip(seqs, seqs[1:], strict=False):
        if b > a + 1:
            report.problems.append(
                Problem("deleted", f"segments {a + 1}..{b - 1}", "index entries gone")
            )


def _check_files(journal: Journal, camera_dirs: list[Path], report: Report) -> None:
    by_sha = {s.sha256: s for s in journal.segments.values()}
    known = journal.known_files()
    segs = journal.ordered()
    for a, b in zip(segs, segs[1:], strict=False):
        if b.seq < a.seq:
            report.problems.append(
                Problem("reordered", Path(b.file).name, f"recorded before segment {a.seq}")
            )
    for seg in segs:
        path = Path(seg.file)
        if not path.exists():
            report.problems.append(Problem("deleted", path.name, f"segment {seg.seq} is gone"))
            continue
        sha = file_sha256(path)
        if sha == seg.sha256:
            continue
        other = by_sha.get(sha)
        if other is not None:
            report.problems.append(
                Problem(
                    "reordered", path.name, f"holds segment {other.seq} ({Path(other.file).name})"
                )
            )
        else:
            report.problems.append(
                Problem("altered", path.name, f"segment {seg.seq}: sha256 differs")
            )
    for d in camera_dirs:
        for path in sorted(d.rglob("*.mp4")) if d.is_dir() else []:
            if str(path) not in known:
                report.problems.append(Problem("inserted", path.name, "file not in the index"))


def verify_camera(
    camera_id: str, journal_dir: Path, camera_dirs: list[Path], anchor: str | None = None
) -> Report:
    lines = read_lines(journal_dir / JOURNAL)
    journal = Journal.open(camera_id, journal_dir)
    report = Report(camera_id, len(journal.segments), journal.head)
    _check_chain(lines, report)
    _check_files(journal, camera_dirs, report)
    if anchor and anchor not in {line.get("link") for line in lines}:
        report.problems.append(
            Problem("altered", "journal", f"anchored head {anchor[:16]}... is no longer in it")
        )
    return report
