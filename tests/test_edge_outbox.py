"""The SQLite outbox: durable before publish, oldest-first, retention never drops evidence."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from edge.config import OutboxConfig
from edge.outbox import Message, Outbox
from edge.publisher import batches, pack

MB = 1024 * 1024


def test_rows_survive_reopen_and_come_back_oldest_first(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    seqs = box.put_many([Message("t/a", b'{"n":%d}' % i) for i in range(10)])
    box.close()
    box = Outbox(tmp_path / "o.db")
    rows = box.fetch(0, None, 100)
    assert [r.seq for r in rows] == seqs and rows[0].body == b'{"n":0}'
    assert box.stats()["depth"] == 10
    box.delete(rows[:4])
    assert [r.seq for r in box.fetch(0, None, 100)] == seqs[4:]
    assert box.stats()["depth"] == 6
    assert box.fetch(seqs[5], seqs[7], 100)[0].seq == seqs[6]  # (after, upto] window


def test_over_cap_drops_telemetry_oldest_first_and_never_evidence(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", OutboxConfig(max_bytes=MB))
    blob = b"x" * 10_000
    evidence = box.put_many([Message("ev", blob) for _ in range(60)])  # 600 kB evidence
    telemetry = box.put_many([Message("tm", blob, "readings", evidence=False) for _ in range(60)])
    # 1.2 MB > 1 MiB: the oldest telemetry went, all evidence stayed.
    remaining = {r.seq for r in box.fetch(0, None, 1000)}
    assert set(evidence) <= remaining
    kept_telemetry = sorted(remaining & set(telemetry))
    assert kept_telemetry == telemetry[-len(kept_telemetry) :]  # the newest ones were kept
    stats = box.stats()
    assert stats["bytes"] <= MB and stats["dropped_telemetry"] == 120 - len(remaining)
    # Evidence alone over the cap: kept, and health says so.
    box.put_many([Message("ev", blob) for _ in range(60)])
    stats = box.stats()
    assert stats["evidence"] == 120 and stats["telemetry"] == 0 and stats["over_cap"]


def test_old_telemetry_expires_but_old_evidence_does_not(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", OutboxConfig(telemetry_max_age_s=0.2))
    box.put(Message("ev", b"{}"))
    box.put(Message("tm", b"{}", "readings", evidence=False))
    time.sleep(0.3)  # the point: the telemetry ages past its 0.2 s
    assert box.enforce_caps() == 1
    assert [r.topic for r in box.fetch(0, None, 10)] == ["ev"]


def test_rows_committed_before_kill_9_are_all_there(tmp_path: Path) -> None:
    """A writer killed mid-stream loses nothing it had reported as stored."""
    db = tmp_path / "o.db"
    code = (
        "import sys; from edge.outbox import Outbox, Message\n"
        f"box = Outbox({str(db)!r})\n"
        "i = 0\n"
        "while True:\n"
        "    s = box.put_many([Message('t', b'{\"i\":%d}' % (i + k)) for k in range(5)])\n"
        "    i += 5\n"
        "    print(s[-1], flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    assert proc.stdout is not None
    reported = [int(proc.stdout.readline()) for _ in range(200)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    seqs = [r.seq for r in Outbox(db).fetch(0, None, 10**6)]
    assert reported[-1] in seqs and set(range(1, reported[-1] + 1)) <= set(seqs)


def test_batches_pack_by_topic_and_size(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.put_many(
        [
            Message("a", b'{"i":1}'),
            Message("a", b'{"i":2}'),
            Message("b", b'{"i":3}'),
            Message("m", b"raw-1", envelope=""),
            Message("m", b"raw-2", envelope=""),
        ]
    )
    groups = batches(box.fetch(0, None, 10), batch_max=10)
    assert [[r.topic for r in g] for g in groups] == [["a", "a"], ["b"], ["m"], ["m"]]
    assert pack(groups[0]) == b'{"events":[{"i":1},{"i":2}]}'
    assert pack(groups[2]) == b"raw-1"
    assert len(batches(box.fetch(0, 2, 10), batch_max=1)) == 2
