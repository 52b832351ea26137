"""PTZ arbitration state in PostgreSQL (migration 0015_ptz), on the API's connection.

Every change starts with :func:`_locked`: the camera's ``ptz_leases`` row is created if
missing and locked ``FOR UPDATE``, so concurrent claims, in one hub or in several, are
decided one after the other on the state the previous one left. Times come from the
database clock, the one clock all replicas share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from hub.ptz.arbitration import Decision, Holder, Lease, Lock, Outcome, decide
from hub.store.scalar import clock

LEASE_COLS = "holder_kind, holder_id, holder_actor, department_id, priority, expires_at"
LOCK_COLS = "department_id, locked_by, reason, incident_id, locked_at"


@dataclass(frozen=True)
class Claimed:
    decision: Decision
    lock: Lock | None
    expires_at: datetime | None  #: the lease's new end when allowed


def _holder(row: dict[str, Any]) -> Holder:
    return Holder(row["holder_kind"], row["holder_id"], row["holder_actor"],
                  row["department_id"], row["priority"])


def _lock(row: dict[str, Any] | None) -> Lock | None:
    if row is None:
        return None
    incident = row["incident_id"]
    return Lock(row["department_id"], row["locked_by"], row["reason"],
                None if incident is None else str(incident))


def _locked(conn: psycopg.Connection[Any], camera_id: str
            ) -> tuple[Lease | None, Lock | None, datetime]:
    """The camera's lease and lock, its lease row locked until the transaction ends."""
    select = f"SELECT {LEASE_COLS} FROM ptz_leases WHERE camera_id = %s FOR UPDATE"
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(select, (camera_id,)).fetchone()
        if row is None:  # first use: a concurrent first use waits here for the other's row
            cur.execute("INSERT INTO ptz_leases (camera_id) VALUES (%s) ON CONFLICT DO NOTHING",
                        (camera_id,))
            row = cur.execute(select, (camera_id,)).fetchone()
        lock = cur.execute(f"SELECT {LOCK_COLS} FROM ptz_locks WHERE camera_id = %s",
                           (camera_id,)).fetchone()
        now = clock(cur.connection)
    assert row is not None  # created above (RLS: the caller may move the camera)
    lease = None if row["holder_id"] is None else Lease(_holder(row), row["expires_at"])
    return lease, _lock(lock), now


def _notify(conn: psycopg.Connection[Any], camera_id: str, loser: Holder, kind: str,
            by: Holder) -> None:
    conn.execute(
        "INSERT INTO ptz_notices (camera_id, department_id, holder_kind, holder_id,"
        " holder_actor, kind, by_actor, by_department) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (camera_id, loser.department, loser.kind, loser.id, loser.actor, kind, by.actor,
         by.department))


def claim(conn: psycopg.Connection[Any], camera_id: str, claimant: Holder, idle_s: float
          ) -> Claimed:
    """Decide ``claimant``'s command and record it: lease taken or renewed, loser told."""
    lease, lock, now = _locked(conn, camera_id)
    decision = decide(claimant, lease, lock, now)
    if not decision.allowed:
        return Claimed(decision, lock, None)
    if decision.loser is not None:
        _notify(conn, camera_id, decision.loser, "taken_over", claimant)
    row = conn.execute(
        "UPDATE ptz_leases SET holder_kind = %s, holder_id = %s, holder_actor = %s,"
        " department_id = %s, priority = %s,"
        " acquired_at = CASE WHEN %s THEN acquired_at ELSE %s END, renewed_at = %s,"
        " expires_at = %s + make_interval(secs => %s) WHERE camera_id = %s RETURNING expires_at",
        (claimant.kind, claimant.id, claimant.actor, claimant.department, claimant.priority,
         decision.outcome is Outcome.renewed, now, now, now, idle_s, camera_id)).fetchone()
    assert row is not None
    return Claimed(decision, lock, row[0])


def _release(conn: psycopg.Connection[Any], camera_id: str) -> None:
    conn.execute(
        "UPDATE ptz_leases SET holder_kind = NULL, holder_id = NULL, holder_actor = NULL,"
        " department_id = NULL, priority = 0, expires_at = NULL WHERE camera_id = %s",
        (camera_id,))


def lock(conn: psycopg.Connection[Any], camera_id: str, by: Holder, reason: str,
         incident_id: str | None) -> Holder | None:
    """Lock the camera for ``by``'s department (the owner); a live lease of another
    department ends and its holder is told. Returns that holder."""
    lease, _, now = _locked(conn, camera_id)
    conn.execute(
        "INSERT INTO ptz_locks (camera_id, department_id, incident_id, reason, locked_by)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (camera_id) DO UPDATE SET"
        " department_id = excluded.department_id, incident_id = excluded.incident_id,"
        " reason = excluded.reason, locked_by = excluded.locked_by, locked_at = now()",
        (camera_id, by.department, incident_id, reason, by.actor))
    if lease is None or not lease.live(now) or lease.holder.department == by.department:
        return None
    _release(conn, camera_id)
    _notify(conn, camera_id, lease.holder, "locked", by)
    return lease.holder


def unlock(conn: psycopg.Connection[Any], camera_id: str) -> bool:
    _locked(conn, camera_id)
    return conn.execute("DELETE FROM ptz_locks WHERE camera_id = %s", (camera_id,)).rowcount > 0


def state(conn: psycopg.Connection[Any], camera_id: str) -> dict[str, Any]:
    """The live controller and the lock as the caller may see them (no row lock)."""
    with conn.cursor(row_factory=dict_row) as cur:
        lease = cur.execute(
            "SELECT holder_actor AS actor, department_id AS department, priority, acquired_at,"
            " renewed_at, expires_at FROM ptz_leases WHERE camera_id = %s"
            " AND holder_id IS NOT NULL AND expires_at > clock_timestamp()",
            (camera_id,)).fetchone()
        lock = cur.execute(
            "SELECT department_id AS department, locked_by AS by, reason, incident_id,"
            " locked_at FROM ptz_locks WHERE camera_id = %s", (camera_id,)).fetchone()
    return {"controller": lease, "lock": lock}


def notices(conn: psycopg.Connection[Any], holder: Holder, after: int, limit: int
            ) -> list[dict[str, Any]]:
    """What ``holder`` was told since notice ``after`` (cameras it lost)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id, camera_id AS camera, kind, by_actor, by_department, at FROM ptz_notices"
            " WHERE department_id = %s AND holder_kind = %s AND holder_id = %s AND id > %s"
            " ORDER BY id LIMIT %s",
            (holder.department, holder.kind, holder.id, after, limit)).fetchall()
