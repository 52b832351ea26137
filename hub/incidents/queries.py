"""Read side: a department's queue and the statistics (with the API's connection, so
row-level security applies as well as the explicit scope)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from hub.incidents.store import COLS

#: Visible to ``department``: filed by it, assigned to it (now or earlier) or notified to
#: it; ``cityhub_incident_ids()`` is evaluated once per query (migration 0009_incidents).
SCOPE = "(i.department_id = %(dept)s OR i.id IN (SELECT cityhub_incident_ids()))"


def queue(conn: psycopg.Connection[Any], department: str, *, states: list[str] | None,
          kind: str | None, site: str | None, priority: int | None, side: str,
          before: datetime | None, limit: int) -> list[dict[str, Any]]:
    """Newest first; ``side``: ``all``, ``filed`` (by the department) or ``assigned`` (to it,
    still active)."""
    where = ["TRUE"]
    if states:
        where.append("i.state = ANY(%(states)s)")
    if kind:
        where.append("i.kind = %(kind)s")
    if site:
        where.append("i.site_id = %(site)s")
    if priority:
        where.append("i.priority = %(priority)s")
    if before:
        where.append("i.created_at < %(before)s")
    cond = " AND ".join(where)
    filed = (f"SELECT {_i()} FROM incidents i WHERE i.department_id = %(dept)s AND {cond}"
             " ORDER BY i.created_at DESC LIMIT %(limit)s")
    assigned = (f"SELECT {_i()} FROM incidents i JOIN incident_assignees a ON a.incident_id = i.id"
                " AND a.department_id = %(dept)s AND a.ended_at IS NULL"
                f" WHERE {cond} ORDER BY i.created_at DESC LIMIT %(limit)s")
    parts = {"filed": [filed], "assigned": [assigned], "all": [filed, assigned]}[side]
    query = ("SELECT * FROM (" + " UNION ".join(f"({p})" for p in parts)
             + ") q ORDER BY created_at DESC, id LIMIT %(limit)s")
    params = {"dept": department, "states": states, "kind": kind, "site": site,
              "priority": priority, "before": before, "limit": limit}
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def _i() -> str:
    return ", ".join(f"i.{c.strip()}" for c in COLS.split(","))


def stats(conn: psycopg.Connection[Any], department: str, since: datetime,
          until: datetime, zone: str = "Asia/Shanghai") -> dict[str, Any]:
    """Counts by kind, department, assignee department and site; the share resolved on
    time; time to acknowledge and to close (seconds: mean, p50, p90); counts per day
    (days of the city's ``zone``)."""
    params = {"dept": department, "since": since, "until": until}
    base = (f"FROM incidents i WHERE {SCOPE} AND i.created_at >= %(since)s"
            " AND i.created_at < %(until)s")
    out: dict[str, Any] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"CREATE TEMP TABLE _inc ON COMMIT DROP AS SELECT i.id, i.kind,"
                    " i.department_id, i.site_id, i.state, i.created_at, i.acknowledged_at,"
                    f" i.resolved_at, i.resolve_due, i.closed_at {base}", params)
        for dim in ("kind", "department_id", "site_id", "state"):
            out[f"by_{dim.removesuffix('_id')}"] = cur.execute(
                f"SELECT coalesce({dim}, '') AS key, count(*) AS count FROM _inc GROUP BY 1"
                " ORDER BY 2 DESC, 1 LIMIT 50").fetchall()
        out["by_assignee"] = cur.execute(
            "SELECT a.department_id AS key, count(DISTINCT a.incident_id) AS count"
            " FROM incident_assignees a JOIN _inc USING (incident_id) GROUP BY 1"
            " ORDER BY 2 DESC, 1 LIMIT 50".replace("USING (incident_id)",
                                                    "ON _inc.id = a.incident_id")).fetchall()
        row = cur.execute(
            "SELECT count(*) AS total, count(resolved_at) AS resolved,"
            " count(*) FILTER (WHERE resolved_at <= resolve_due) AS on_time,"
            " avg(extract(epoch FROM acknowledged_at - created_at)) AS ack_mean,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM acknowledged_at"
            " - created_at)) AS ack_p50,"
            " percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM acknowledged_at"
            " - created_at)) AS ack_p90,"
            " avg(extract(epoch FROM closed_at - created_at)) AS close_mean,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at"
            " - created_at)) AS close_p50,"
            " percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at"
            " - created_at)) AS close_p90 FROM _inc").fetchone()
        assert row is not None
        out["totals"] = {k: (float(v) if v is not None and not isinstance(v, int) else v)
                         for k, v in row.items()}
        out["on_time_share"] = (row["on_time"] / row["resolved"]) if row["resolved"] else None
        out["per_day"] = [
            {"day": r["day"].isoformat(), "count": r["count"], "closed": r["closed"]}
            for r in cur.execute(
                "SELECT date_trunc('day', created_at AT TIME ZONE %s)::date AS day,"
                " count(*) AS count, count(closed_at) AS closed FROM _inc GROUP BY 1 ORDER BY 1",
                (zone,)).fetchall()]
        cur.execute("DROP TABLE _inc")
    return out
