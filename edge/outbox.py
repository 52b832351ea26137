"""The on-disk outbox: every message is committed here before it is published.

SQLite in WAL mode, one row per event, reading or media object, keyed by a
monotonically increasing ``seq`` (oldest first). A row is deleted only when the
broker's PUBACK for the message that carried it arrives, so a crash, a broker
restart or a cut uplink loses nothing; the hub de-duplicates re-sends by the
event's UUIDv7.

Retention policy (documented in edge/README.md):

* ``evidence`` rows (events, snapshots) are never dropped by the outbox;
* ``telemetry`` rows (sensor readings, health-like data) are dropped oldest-first
  when the outbox is over ``max_bytes``, and when older than ``telemetry_max_age_s``;
* below ``min_free_disk_bytes`` of free disk new telemetry is refused; evidence is
  still written until SQLite itself reports the disk full (then the writer gets
  an ``OutboxError`` and the source is told to retry, e.g. HTTP 503).
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge.config import OutboxConfig

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    topic    TEXT    NOT NULL,
    envelope TEXT    NOT NULL,   -- 'events' | 'readings' | '' (raw: one message per row)
    evidence INTEGER NOT NULL,   -- 1: never dropped by the retention policy
    created  REAL    NOT NULL,   -- unix time the row was written
    size     INTEGER NOT NULL,
    body     BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_telemetry ON outbox (evidence, seq);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class OutboxError(RuntimeError):
    """A message could not be stored (disk full, telemetry refused): the source must retry."""


@dataclass(frozen=True, slots=True)
class Row:
    seq: int
    topic: str
    envelope: str
    size: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Message:
    """What to store: ``body`` is one JSON object (or raw bytes when ``envelope`` is '')."""

    topic: str
    body: bytes
    envelope: str = "events"
    evidence: bool = True


class Outbox:
    """Thread-safe: analytics threads, the HTTP listener and the publisher share one."""

    def __init__(self, path: Path, config: OutboxConfig | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.config = config or OutboxConfig()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={self.config.synchronous.upper()}")
        self._db.executescript(_SCHEMA)
        count, size = self._db.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM outbox"
        ).fetchone()
        self._count, self._bytes = int(count), int(size)
        self._last_disk_check = 0.0
        self._disk_low = False

    # -- writing -------------------------------------------------------------

    def put(self, message: Message) -> int:
        return self.put_many([message])[-1]

    def put_many(self, messages: Sequence[Message]) -> list[int]:
        """Commit messages durably (one transaction) and return their seqs."""
        if not messages:
            return []
        if self._low_disk() and any(not m.evidence for m in messages):
            self._bump("refused_telemetry", sum(1 for m in messages if not m.evidence))
            messages = [m for m in messages if m.evidence]
            if not messages:
                raise OutboxError(
                    "disk almost full: telemetry refused (evidence is still accepted)"
                )
        now = time.time()
        seqs: list[int] = []
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for m in messages:
                    cur = self._db.execute(
                        "INSERT INTO outbox (topic, envelope, evidence, created, size, body) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (m.topic, m.envelope, int(m.evidence), now, len(m.body), m.body),
                    )
                    seqs.append(int(cur.lastrowid or 0))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise OutboxError(f"outbox write failed: {exc}") from exc
            self._count += len(messages)
            self._bytes += sum(len(m.body) for m in messages)
            over = self._bytes > self.config.max_bytes
        if over:
            self.enforce_caps()
        return seqs

    def delete(self, rows: Iterable[Row]) -> None:
        """Forget rows whose PUBACK arrived."""
        rows = list(rows)
        if not rows:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                removed = self._delete_seqs([r.seq for r in rows])
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._rollback()
                raise
            self._forget(removed)

    # -- reading -------------------------------------------------------------

    def fetch(self, after: int, upto: int | None, limit: int) -> list[Row]:
        """Rows with after < seq <= upto, oldest first."""
        with self._lock:
            cur = self._db.execute(
                "SELECT seq, topic, envelope, size, body FROM outbox WHERE seq > ? AND seq <= ? "
                "ORDER BY seq LIMIT ?",
                (after, upto if upto is not None else 2**62, limit),
            )
            return [Row(*r) for r in cur.fetchall()]

    def max_seq(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0])

    def stats(self) -> dict[str, float | int]:
        with self._lock:
            evidence, oldest = self._db.execute(
                "SELECT coalesce(sum(evidence), 0), min(created) FROM outbox"
            ).fetchone()
            counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
            return {
                "depth": self._count,
                "bytes": self._bytes,
                "evidence": int(evidence),
                "telemetry": self._count - int(evidence),
                "oldest_age_s": round(time.time() - oldest, 3) if oldest else 0.0,
                "dropped_telemetry": int(counters.get("dropped_telemetry", 0)),
                "refused_telemetry": int(counters.get("refused_telemetry", 0)),
                "over_cap": self._bytes > self.config.max_bytes,
            }

    # -- retention -----------------------------------------------------------

    def enforce_caps(self) -> int:
        """Apply the retention policy; returns how many telemetry rows were dropped."""
        dropped = 0
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                old = [
                    r[0]
                    for r in self._db.execute(
                        "SELECT seq FROM outbox WHERE evidence = 0 AND created < ? ORDER BY seq",
                        (time.time() - self.config.telemetry_max_age_s,),
                    )
                ]
                dropped += self._forget(self._delete_seqs(old))
                while self._bytes > self.config.max_bytes:
                    excess = self._bytes - self.config.max_bytes
                    batch: list[int] = []
                    for seq, size in self._db.execute(
                        "SELECT seq, size FROM outbox WHERE evidence = 0 ORDER BY seq LIMIT 500"
                    ):
                        batch.append(seq)
                        excess -= size
                        if excess <= 0:
                            break
                    if not batch:
                        break  # only evidence left: it is kept, health reports over_cap
                    dropped += self._forget(self._delete_seqs(batch))
                if dropped:
                    self._db.execute(
                        "INSERT INTO counters VALUES ('dropped_telemetry', ?) ON CONFLICT(name) "
                        "DO UPDATE SET value = value + excluded.value",
                        (dropped,),
                    )
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._rollback()
                raise
        return dropped

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- internals (call with the lock held) ---------------------------------

    def _delete_seqs(self, seqs: list[int]) -> list[int]:
        """Delete rows, returning the sizes of those that existed."""
        sizes: list[int] = []
        for i in range(0, len(seqs), 500):
            chunk = seqs[i : i + 500]
            marks = ",".join("?" * len(chunk))
            sizes += [
                r[0]
                for r in self._db.execute(
                    f"DELETE FROM outbox WHERE seq IN ({marks}) RETURNING size", chunk
                )
            ]
        return sizes

    def _forget(self, sizes: list[int]) -> int:
        self._count -= len(sizes)
        self._bytes -= sum(sizes)
        return len(sizes)

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _bump(self, name: str, n: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) "
                "DO UPDATE SET value = value + excluded.value",
                (name, n),
            )

    def _low_disk(self) -> bool:
        now = time.monotonic()
        if now - self._last_disk_check > 1.0:
            self._last_disk_check = now
            self._disk_low = free_disk(self.path.parent) < self.config.min_free_disk_bytes
        return self._disk_low


def free_disk(path: Path) -> int:
    return shutil.disk_usage(path).free


def disk_usage(path: Path) -> dict[str, int]:
    u = shutil.disk_usage(path)
    return {"total_bytes": u.total, "free_bytes": u.free, "used_bytes": u.used}


__all__ = ["Message", "Outbox", "OutboxError", "Row", "disk_usage", "free_disk"]
