"""The escalation task: incidents whose next check is due, locked ``SKIP LOCKED`` so that
replicas never handle one twice; each breach level raises an escalation (timeline, audit,
notifications of the configured roles and departments)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from adapters.model import new_event_id
from hub.incidents import sla, store
from hub.incidents.settings import IncidentsConfig
from hub.store.scalar import clock

SYSTEM = "system:escalation"
#: Site of escalation events for incidents filed at a map position without a site.
UNSITED = "unsited"


def _recipients(conn: psycopg.Connection[Any], row: dict[str, Any], limit: str,
                departments: list[str]) -> list[str]:
    if departments:
        return departments
    out = [row["department_id"]]
    if limit == "resolve":
        out += [r[0] for r in conn.execute(
            "SELECT DISTINCT department_id FROM incident_assignees WHERE incident_id = %s"
            " AND ended_at IS NULL AND department_id <> %s",
            (row["id"], row["department_id"])).fetchall()]
    return out


def _event(conn: psycopg.Connection[Any], row: dict[str, Any], limit: str, level: int,
           now: datetime) -> None:
    """The escalation as an event of its own (kind ``incident_escalation``, source ``hub``):
    it shows in the event console and on the map, and rules or a province platform may act
    on it like on any alarm."""
    conn.execute("SELECT store_ensure_partitions('events'::regclass, %s, %s)",
                 (now, now + timedelta(microseconds=1)))
    conn.execute(
        "INSERT INTO events (id, occurred_at, source_system, kind, severity, department_id,"
        " site_id, lat, lon, attributes) VALUES (%s, %s, 'hub', 'incident_escalation', %s, %s,"
        " %s, %s, %s, %s)",
        (new_event_id(), now, min(3, 1 + level), row["department_id"],
         row["site_id"] or UNSITED, row["lat"], row["lon"],
         Jsonb({"incident": str(row["id"]), "number": row["number"], "title": row["title"],
                "limit": limit, "level": level, "priority": row["priority"]})))


def run(conn: psycopg.Connection[Any], config: IncidentsConfig, batch: int = 200) -> int:
    """Handle every incident due now; the number of escalations raised."""
    raised = 0
    with conn.cursor(row_factory=dict_row) as cur:
        now = clock(cur.connection)
        rows = cur.execute(
            f"SELECT {store.COLS} FROM incidents WHERE next_due_at <= %s ORDER BY next_due_at"
            " LIMIT %s FOR UPDATE SKIP LOCKED", (now, batch)).fetchall()
    for row in rows:
        p = sla.plan(row, config.escalation, now)
        breached = list(row["breached"])
        if p.limit is not None and p.breached and p.limit not in breached:
            breached.append(p.limit)
        for level in p.raise_levels:
            step = config.escalation[level - 1]
            actor = store.Actor(SYSTEM, row["department_id"])
            for dept in _recipients(conn, row, p.limit or "", step.departments):
                for role in step.roles:
                    store.notify(conn, row["id"], dept, f"breach:{p.limit}", role.value, level)
            store.timeline(conn, row["id"], actor, f"time to {p.limit} exceeded: escalation "
                           f"level {level}", action="escalate", limit=p.limit, level=level)
            store._audit(conn, actor, "incident.escalate", row, limit=p.limit, level=level)
            _event(conn, row, p.limit or "", level, now)
            raised += 1
        conn.execute(
            "UPDATE incidents SET breached = %s, escalation_for = %s, escalation_level = %s,"
            " next_due_at = %s WHERE id = %s",
            (breached, p.limit, p.level, p.next_due_at, row["id"]))
    conn.commit()
    return raised
