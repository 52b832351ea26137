"""Incidents in PostgreSQL: file, attach, transition (compare-and-set on ``version``),
comment, notify. Works on the API's connection (department bound, row-level security) and
on the worker's owner connection alike; every change writes a timeline entry and an
audit entry in the same transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from hub.audit import chain
from hub.incidents import sharing, sla
from hub.incidents.settings import IncidentsConfig
from hub.incidents.states import ACTIONS, FINAL, TransitionError, allowed, target_of
from hub.store.scalar import clock

COLS = (
    "id, number, department_id, kind, priority, title, description, state, source, rule_id,"
    " site_id, lat, lon, merge_key, event_count, first_event_at, last_event_at, version,"
    " created_by, created_at, updated_at, acknowledged_at, dispatched_at, resolved_at,"
    " verified_at, closed_at, cancelled_at, cancel_reason, acknowledge_due, dispatch_due,"
    " resolve_due, breached, escalation_for, escalation_level, next_due_at"
)


@dataclass(frozen=True)
class Actor:
    """Who acts: ``name`` as in the audit log (user:…, rule:…, system) and its department."""

    name: str
    department: str


class Conflict(TransitionError):
    """Someone else changed the incident first (HTTP 409)."""


def _now(conn: psycopg.Connection[Any]) -> datetime:
    return clock(conn)


def get(
    conn: psycopg.Connection[Any], incident_id: str, lock: bool = False
) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {COLS} FROM incidents WHERE id = %s" + (" FOR UPDATE" if lock else ""),
            (incident_id,),
        ).fetchone()


def sides(conn: psycopg.Connection[Any], incident: dict[str, Any], department: str) -> set[str]:
    out = set()
    if incident["department_id"] == department:
        out.add("owner")
    row = conn.execute(
        "SELECT 1 FROM incident_assignees WHERE incident_id = %s AND department_id = %s"
        " AND ended_at IS NULL LIMIT 1", (incident["id"], department)).fetchone()
    if row is not None:
        out.add("assignee")
    return out


def actions_for(
    conn: psycopg.Connection[Any], incident: dict[str, Any], department: str
) -> list[str]:
    return allowed(incident["state"], sides(conn, incident, department))


def timeline(conn: psycopg.Connection[Any], incident_id: str, author: Actor, body: str, *,
             system: bool = True, action: str | None = None, **detail: Any) -> None:
    conn.execute(
        "INSERT INTO incident_comments (incident_id, author, department_id, system, action, body,"
        " detail) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (incident_id, author.name, author.department, system, action, body, Jsonb(detail)),
    )


_batch: ContextVar[list[dict[str, Any]] | None] = ContextVar("incident_audit", default=None)


@contextmanager
def audit_batch(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Append the audit entries made inside in one go, in order, at the end (the worker's
    passes: one lock of the audit chain per pass instead of one per incident)."""
    entries: list[dict[str, Any]] = []
    token = _batch.set(entries)
    try:
        yield
    finally:
        _batch.reset(token)
    if entries:
        chain.append_many(conn, entries)


def _audit(conn: psycopg.Connection[Any], actor: Actor, action: str, incident: dict[str, Any],
           **detail: Any) -> None:
    entry = {"actor": actor.name, "actor_department": actor.department, "action": action,
             "target_type": "incident", "target_id": str(incident["id"]),
             "department": incident["department_id"],
             "detail": {"number": incident["number"], **detail}}
    pending = _batch.get()
    if pending is not None:
        pending.append(entry)
    else:
        chain.append_many(conn, [entry])


def notify(conn: psycopg.Connection[Any], incident_id: str, department: str, reason: str,
           role: str | None = None, level: int = 0) -> None:
    conn.execute(
        "INSERT INTO incident_notifications (incident_id, department_id, role, reason, level)"
        " VALUES (%s, %s, %s, %s, %s)", (incident_id, department, role, reason, level))


def _schedule(conn: psycopg.Connection[Any], config: IncidentsConfig, row: dict[str, Any],
              now: datetime) -> dict[str, Any]:
    """Store when the escalation task must look at ``row`` next."""
    pend = sla.pending(row)
    limit = pend[0] if pend else None
    level = row["escalation_level"] if row.get("escalation_for") == limit else 0
    steps = config.escalation
    nxt = pend[1] + timedelta(seconds=steps[level].after_s) if pend and level < len(steps) else None
    with conn.cursor(row_factory=dict_row) as cur:
        out = cur.execute(
            f"UPDATE incidents SET next_due_at = %s, escalation_for = %s, escalation_level = %s"
            f" WHERE id = %s RETURNING {COLS}", (nxt, limit, level, row["id"])).fetchone()
    assert out is not None
    return out


def create(conn: psycopg.Connection[Any], config: IncidentsConfig, actor: Actor, *,
           kind: str, priority: int, title: str, description: str = "", source: str,
           site_id: str | None = None, lat: float | None = None, lon: float | None = None,
           rule_id: str | None = None, merge_key: str | None = None) -> dict[str, Any]:
    """File a new incident in the actor's department."""
    now = _now(conn)
    due = sla.due_times(config, kind, priority, now)
    first = due["acknowledge_due"] + timedelta(seconds=config.escalation[0].after_s)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "INSERT INTO incidents (department_id, kind, priority, title, description, state,"
            " source, rule_id, site_id, lat, lon, merge_key, created_by, created_at, updated_at,"
            " acknowledge_due, dispatch_due, resolve_due, escalation_for, next_due_at) VALUES"
            " (%s, %s, %s, %s, %s, 'new', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " 'acknowledge', %s) RETURNING " + COLS,
            (actor.department, kind, priority, title, description, source, rule_id, site_id, lat,
             lon, merge_key, actor.name, now, now, due["acknowledge_due"], due["dispatch_due"],
             due["resolve_due"], first),
        ).fetchone()
    assert row is not None
    timeline(conn, row["id"], actor, "created", action="create", source=source)
    _audit(conn, actor, "incident.create", row, kind=kind, priority=priority, source=source)
    return row


def attach_events(conn: psycopg.Connection[Any], config: IncidentsConfig, incident: dict[str, Any],
                  events: list[dict[str, Any]], actor: Actor, rule_id: str | None = None) -> int:
    """Attach events (rows of ``events``) and their cameras around each event's time; the
    number newly attached."""
    if not events:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO incident_events (incident_id, event_id, occurred_at, kind, department_id,"
            " site_id, camera_id, rule_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            [(incident["id"], ev["id"], ev["occurred_at"], ev["kind"], ev["department_id"],
              ev["site_id"], ev.get("camera_id"), rule_id) for ev in events])
        added = max(cur.rowcount, 0)
        spans = [(incident["id"], ev["camera_id"], ev["department_id"],
                  ev["occurred_at"] - timedelta(seconds=config.camera_before_s),
                  ev["occurred_at"] + timedelta(seconds=config.camera_after_s), actor.name)
                 for ev in events if ev.get("camera_id")]
        if spans:
            cur.executemany(
                "INSERT INTO incident_cameras (incident_id, camera_id, department_id, starts_at,"
                " ends_at, attached_by) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                spans)
    if added:
        conn.execute(
            "UPDATE incidents SET event_count = event_count + %s, first_event_at ="
            " LEAST(first_event_at, %s), last_event_at = GREATEST(last_event_at, %s),"
            " updated_at = clock_timestamp() WHERE id = %s",
            (added, min(e["occurred_at"] for e in events), max(e["occurred_at"] for e in events),
             incident["id"]))
    return added


def attach_camera(conn: psycopg.Connection[Any], incident: dict[str, Any], camera_id: str,
                  department: str, starts_at: datetime, ends_at: datetime, actor: Actor,
                  quiet: bool = False) -> None:
    conn.execute(
        "INSERT INTO incident_cameras (incident_id, camera_id, department_id, starts_at, ends_at,"
        " attached_by) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (incident["id"], camera_id, department, starts_at, ends_at, actor.name))
    if not quiet:
        timeline(conn, incident["id"], actor, "camera attached", action="attach_camera",
                 camera=camera_id, starts_at=starts_at.isoformat(), ends_at=ends_at.isoformat())


def after_attach(conn: psycopg.Connection[Any], config: IncidentsConfig, incident: dict[str, Any],
                 actor: Actor) -> None:
    """Widen the assignees' grants to what is attached now."""
    if incident["state"] not in FINAL:
        sharing.reshare(conn, incident, actor.name, config.grant_days)


def _assign(conn: psycopg.Connection[Any], config: IncidentsConfig, incident: dict[str, Any],
            assignees: list[dict[str, str]], actor: Actor) -> list[str]:
    added = []
    for a in assignees:
        dept, who = a["department"], a.get("assignee") or ""
        exists = conn.execute(
            "SELECT 1 FROM incident_assignees WHERE incident_id = %s AND department_id = %s"
            " AND assignee = %s AND ended_at IS NULL", (incident["id"], dept, who)).fetchone()
        if exists:
            continue
        shared = conn.execute(
            "SELECT 1 FROM incident_assignees WHERE incident_id = %s AND department_id = %s"
            " AND ended_at IS NULL", (incident["id"], dept)).fetchone()
        grants = [] if shared else sharing.share(conn, incident, dept, actor.name,
                                                 config.grant_days)
        conn.execute(
            "INSERT INTO incident_assignees (incident_id, department_id, assignee, assigned_by,"
            " assigned_at, grant_ids) VALUES (%s, %s, %s, %s, clock_timestamp(), %s)",
            (incident["id"], dept, who, actor.name, grants))
        notify(conn, incident["id"], dept, "assigned")
        added.append(f"{dept}/{who}" if who else dept)
    return added


def _end_assignments(conn: psycopg.Connection[Any], incident: dict[str, Any], actor: Actor,
                     reason: str, department: str | None = None) -> list[str]:
    rows = conn.execute(
        "UPDATE incident_assignees SET ended_at = clock_timestamp(), end_reason = %s"
        " WHERE incident_id = %s AND ended_at IS NULL AND (%s::text IS NULL OR department_id = %s)"
        " RETURNING grant_ids", (reason, incident["id"], department, department)).fetchall()
    grants = [g for r in rows for g in r[0]]
    return sharing.unshare(conn, incident, grants, actor.name)


STAMP = {"acknowledged": "acknowledged_at", "dispatched": "dispatched_at",
         "resolved": "resolved_at", "verified": "verified_at", "closed": "closed_at",
         "cancelled": "cancelled_at"}


def transition(conn: psycopg.Connection[Any], config: IncidentsConfig, incident_id: str,
               action: str, actor: Actor, *, version: int | None = None, reason: str = "",
               assignees: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Take ``action`` on the incident. The row is locked for the transaction; a stale
    ``version`` (someone acted first) raises :class:`Conflict`."""
    row = get(conn, incident_id, lock=True)
    if row is None:
        raise TransitionError("incident_not_found", "no such incident")
    if version is not None and row["version"] != version:
        raise Conflict("incident_version_conflict",
                       f"the incident changed (now {row['state']}, version {row['version']})")
    side = sides(conn, row, actor.department)
    if not side:
        raise TransitionError("incident_not_found", "no such incident")
    target = target_of(action, row["state"], side)
    if ACTIONS[action].needs_reason and not reason.strip():
        raise TransitionError("incident_reason_required", f"{action} needs a reason")
    detail: dict[str, Any] = {}
    if action == "dispatch":
        if not assignees:
            raise TransitionError("incident_no_assignees", "dispatch needs assignees")
        detail["assigned"] = _assign(conn, config, row, assignees, actor)
    if action == "hand_back":
        detail["revoked"] = _end_assignments(conn, row, actor, reason, actor.department)
        still = conn.execute("SELECT 1 FROM incident_assignees WHERE incident_id = %s"
                             " AND ended_at IS NULL LIMIT 1", (row["id"],)).fetchone()
        if still is None:
            target = "acknowledged"
        notify(conn, row["id"], row["department_id"], "handed_back")
    if target in FINAL:
        detail["revoked"] = _end_assignments(conn, row, actor, target)
    sets = ["state = %(target)s", "version = version + 1", "updated_at = clock_timestamp()"]
    if target in STAMP and target != row["state"]:
        sets.append(f"{STAMP[target]} = clock_timestamp()")
    if target == "dispatched":
        sets.append("acknowledged_at = COALESCE(acknowledged_at, clock_timestamp())")
    if target == "cancelled":
        sets.append("cancel_reason = %(reason)s")
    if action == "reopen":
        sets += ["resolved_at = NULL", "verified_at = NULL", "closed_at = NULL",
                 "resolve_due = clock_timestamp() + %(resolve)s"]
    lim = config.limit_for(row["kind"], row["priority"])
    with conn.cursor(row_factory=dict_row) as cur:
        new = cur.execute(
            f"UPDATE incidents SET {', '.join(sets)} WHERE id = %(id)s RETURNING {COLS}",
            {"target": target, "reason": reason, "id": row["id"],
             "resolve": timedelta(seconds=lim.resolve_s)}).fetchone()
    assert new is not None
    timeline(conn, row["id"], actor, reason or action, action=action, state_from=row["state"],
             state_to=target, **detail)
    _audit(conn, actor, f"incident.{action}", new, state_from=row["state"], state_to=target,
           reason=reason, **detail)
    return _schedule(conn, config, new, _now(conn))
