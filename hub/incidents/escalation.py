"""The escalation task: incidents whose next check is due, locked ``SKIP LOCKED`` so that
replicas never handle one twice; each breach level raises an escalation (timeline, audit,
notifications of the configured roles and departments)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from hub.incidents import sla, store
from hub.incidents.settings import IncidentsConfig

SYSTEM = "system:escalation"


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


def run(conn: psycopg.Connection[Any], config: IncidentsConfig, batch: int = 200) -> int:
    """Handle every incident due now; the number of escalations raised."""
    raised = 0
    with conn.cursor(row_factory=dict_row) as cur:
        now = cur.execute("SELECT clock_timestamp() AS now").fetchone()["now"]  # type: ignore[index]
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
            raised += 1
        conn.execute(
            "UPDATE incidents SET breached = %s, escalation_for = %s, escalation_level = %s,"
            " next_due_at = %s WHERE id = %s",
            (breached, p.limit, p.level, p.next_due_at, row["id"]))
    conn.commit()
    return raised
