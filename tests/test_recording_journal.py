"""The journal's running views (time order, groups by storage path/tier/held, byte totals)
against a recount from scratch, after random appends, deletions, moves and holds; and a
journal read back from its file has the same views."""

from __future__ import annotations

import random
from pathlib import Path

from streams.recording.journal import Journal, Segment, order_key, read_lines, segment_links
from streams.recording.storage import Storage


def _recount(journal: Journal) -> dict:
    groups: dict = {}
    for seg in sorted(journal.segments.values(), key=order_key):
        key = (journal.owner(seg.file), seg.tier, seg.held)
        items, size = groups.get(key, ([], 0))
        groups[key] = (items + [seg], size + seg.bytes)
    return groups


def _seqs(segs: list[Segment]) -> list[int]:
    return [s.seq for s in segs]


def _check(journal: Journal, rng: random.Random) -> None:
    everything = sorted(journal.segments.values(), key=order_key)
    assert _seqs(journal.ordered()) == _seqs(everything)
    recount = _recount(journal)
    groups = journal.groups()
    assert {k: (_seqs(v[0]), v[1]) for k, v in groups.items()} == {
        k: (_seqs(v[0]), v[1]) for k, v in recount.items()
    }
    used: dict[Path, int] = {}
    for (path, _tier, _held), (_items, size) in recount.items():
        if path is not None:
            used[path] = used.get(path, 0) + size
    assert journal.used() == used
    count, size, oldest, newest = journal.summary()
    assert (count, size) == (len(everything), sum(s.bytes for s in everything))
    assert (oldest, newest) == (
        (everything[0].start, everything[-1].end) if everything else (None, None)
    )
    for _ in range(5):
        a = rng.uniform(-50, 1100)
        b = a + rng.uniform(0, 200)
        brute = [s for s in everything if s.end > a and s.start < b]
        assert _seqs(journal.overlapping(a, b)) == _seqs(brute)
        assert _seqs(journal.overlapping(a)) == _seqs([s for s in everything if s.end > a])

        def reached(s: Segment, t: float = a) -> bool:
            return s.end >= t

        deletable = journal.oldest(lambda g: not g[2], reached)
        brute_old = []
        for s in everything:
            if not s.held:
                if s.end >= a:
                    break
                brute_old.append(s)
        assert _seqs(deletable) == _seqs(brute_old)


def test_running_views_match_a_recount_after_random_changes(tmp_path) -> None:
    rng = random.Random(7)
    fast = [tmp_path / "disk1", tmp_path / "disk2"]
    storage = Storage(fast, {}, 0)
    journal = Journal.open("cam1", tmp_path / "journal", storage.owner)
    t = 0.0
    for step in range(600):
        live = list(journal.segments.values())
        op = rng.random()
        if op < 0.5 or not live:
            # Mostly in time order; sometimes a recovered segment from earlier.
            start = t if rng.random() < 0.85 else rng.uniform(0, max(t, 1))
            t += rng.uniform(1, 3)
            length = rng.choice([1.0, 2.0, 2.0, 8.0])
            disk = rng.choice([*fast, tmp_path / "elsewhere"])
            journal.append(
                "segment", file=str(disk / f"s{step}.mp4"), start=round(start, 3),
                end=round(start + length, 3), bytes=rng.randint(1, 5000), sha256="0" * 64,
            )
        elif op < 0.65:
            seg = rng.choice(live)
            assert journal.delete(seg, "retention", lambda p: None) == (not seg.held)
        elif op < 0.75:
            seg = rng.choice(live)
            journal.append("moved", seq=seg.seq, file=str(tmp_path / "nas" / f"m{seg.seq}.mp4"),
                           tier="archive")
        elif op < 0.95:
            seg = rng.choice(live)
            journal.append("hold", seq=seg.seq, held=not seg.held, reason="case")
        else:
            a = rng.uniform(0, t + 20)
            journal.append("hold_range", start=a, end=a + 30, held=rng.random() < 0.7,
                           reason="case")
        if step % 20 == 0:
            _check(journal, rng)
    _check(journal, rng)
    assert any(s.held for s in journal.segments.values())
    assert any(s.tier == "archive" for s in journal.segments.values())
    again = Journal.open("cam1", tmp_path / "journal", storage.owner)
    assert {k: _seqs(v[0]) for k, v in again.groups().items()} == {
        k: _seqs(v[0]) for k, v in journal.groups().items()
    }
    assert again.used() == journal.used() and again.head == journal.head
    _check(again, rng)


def test_segment_links_are_those_of_the_journal_lines(tmp_path) -> None:
    journal = Journal.open("cam1", tmp_path / "journal")
    for i in range(30):
        journal.append("segment", file=str(tmp_path / f"s{i}.mp4"), start=i * 2.0,
                       end=i * 2.0 + 2, bytes=10, sha256="0" * 64)
        journal.append("hold", seq=i, held=True, reason=f"segment {i}")
    lines = read_lines(journal.path)
    links = {x["seq"]: x["link"] for x in lines if x["kind"] == "segment"}
    wanted = {3, 4, 17, 29, 99}
    assert segment_links(journal.path, wanted) == {k: links[k] for k in (3, 4, 17, 29)}
