"""The hash-chained audit log: append (serialised) and verify.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's
canonical form (JSON, sorted keys, no whitespace, UTC timestamps with
microseconds). Writers take one transaction-scoped advisory lock, so the chain
never forks, and the entry commits or rolls back together with the action it
records. An edited row breaks its own hash; a deleted or reordered row breaks
the sequence or the link to its predecessor; a truncated tail is caught against
an exported daily root (:mod:`hub.audit.roots`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

GENESIS = "0" * 64
#: Arbitrary constant naming the audit writers' advisory lock.
LOCK_KEY = 0x63697479_61756474  # "cityaudt"
FIELDS = (
    "seq",
    "at",
    "actor",
    "actor_department",
    "action",
    "target_type",
    "target_id",
    "department",
    "detail",
    "prev_hash",
)


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(entry: dict[str, Any]) -> bytes:
    """The bytes an entry's hash covers."""
    body = {k: entry[k] for k in FIELDS}
    body["at"] = _ts(entry["at"])
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(entry["prev_hash"].encode() + b"\n" + canonical(entry)).hexdigest()


def append(conn: psycopg.Connection[Any], *, actor: str, action: str,
           actor_department: str | None = None, target_type: str | None = None,
           target_id: str | None = None, department: str | None = None,
           detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """Append one entry inside the caller's transaction (commits with it)."""
    return append_many(conn, [{
        "actor": actor, "action": action, "actor_department": actor_department,
        "target_type": target_type, "target_id": target_id, "department": department,
        "detail": detail,
    }])[0]


def append_many(conn: psycopg.Connection[Any], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Append entries in order under one lock, inside the caller's transaction."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    entries = []
    for item in items:
        seq += 1
        entry: dict[str, Any] = {
            "seq": seq,
            "at": datetime.now(UTC),
            "actor": item["actor"],
            "actor_department": item.get("actor_department"),
            "action": item["action"],
            "target_type": item.get("target_type"),
            "target_id": item.get("target_id"),
            "department": item.get("department"),
            # jsonb normalises what it stores: hash what it will give back
            "detail": json.loads(json.dumps(item.get("detail") or {}, default=str)),
            "prev_hash": prev,
        }
        entry["hash"] = prev = entry_hash(entry)
        entries.append(entry)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO audit_log (seq, at, actor, actor_department, action, target_type,"
            " target_id, department, detail, prev_hash, hash) VALUES (%(seq)s, %(at)s, %(actor)s,"
            " %(actor_department)s, %(action)s, %(target_type)s, %(target_id)s, %(department)s,"
            " %(detail)s, %(prev_hash)s, %(hash)s)",
            [{**e, "detail": Jsonb(e["detail"])} for e in entries],
        )
    return entries


@dataclass
class Problem:
    seq: int
    reason: str


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: list[Problem]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "problems": [{"seq": p.seq, "reason": p.reason} for p in self.problems[:100]],
        }


def rows(conn: psycopg.Connection[Any], batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Every entry in storage order (by seq), streamed."""
    with conn.cursor(row_factory=dict_row, name="audit_verify") as cur:
        cur.itersize = batch
        cur.execute("SELECT * FROM audit_log ORDER BY seq")
        yield from cur


def verify_entries(entries: Iterable[dict[str, Any]]) -> VerifyResult:
    """Check every hash, every link and that seq runs 1, 2, 3... without gaps."""
    problems: list[Problem] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for e in entries:
        count += 1
        if e["seq"] != expected_seq:
            problems.append(Problem(e["seq"], f"sequence gap or reorder: expected {expected_seq}"))
        if e["prev_hash"] != prev_hash:
            problems.append(Problem(e["seq"], "does not link to the previous entry"))
        if entry_hash(e) != e["hash"]:
            problems.append(Problem(e["seq"], "content does not match its hash (edited)"))
        prev_hash, expected_seq = e["hash"], e["seq"] + 1
    return VerifyResult(not problems, count, expected_seq - 1, prev_hash, problems)


def verify(conn: psycopg.Connection[Any]) -> VerifyResult:
    """Verify the whole chain in one snapshot (repeatable read when given an idle connection)."""
    if conn.autocommit:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return verify_entries(rows(conn))
    return verify_entries(rows(conn))
