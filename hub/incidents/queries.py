"""Read side: a department's queue and the statistics (with the API's connection, so
row-level security applies as well as the explicit scope)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from hub.incidents.states import State
from hub.incidents.store import COLS

#: Visible to ``department``: filed by it, assigned to it (now or earlier) or notified to
#: it; ``cityhub_incident_ids()`` is evaluated once per query (migration 0009_incidents).
SCOPE = "(i.department_id = %(dept)s OR i.id IN (SELECT cityhub_incident_ids()))"


def queue(conn: psycopg.Connection[Any], department: str, *, states: list[State] | None,
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


_WINDOW = """
  FROM incidents i,
       LATERAL (SELECT extract(epoch FROM i.acknowledged_at - i.created_at) AS ack,
                       extract(epoch FROM i.closed_at - i.created_at) AS close,
                       date_trunc('day', i.created_at AT TIME ZONE %(zone)s)::date AS day) x
 WHERE {scope} AND i.created_at >= %(since)s AND i.created_at < %(until)s"""
#: Counts per dimension in one pass (grouping sets, hashed).
COUNTS = """
SELECT grouping(i.kind, i.department_id, i.site_id, i.state, day) AS g,
       i.kind, i.department_id, i.site_id, i.state, day, count(*) AS count,
       count(i.closed_at) AS closed""" + _WINDOW + """
 GROUP BY GROUPING SETS ((i.kind), (i.department_id), (i.site_id), (i.state), (day))"""
#: The whole window: on-time share, times to acknowledge and to close.
TOTALS_SQL = """
SELECT count(*) AS count, count(i.resolved_at) AS resolved,
       count(*) FILTER (WHERE i.resolved_at <= i.resolve_due) AS on_time,
       avg(ack) AS ack_mean,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ack) AS ack_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY ack) AS ack_p90,
       avg(close) AS close_mean,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY close) AS close_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY close) AS close_p90""" + _WINDOW
DIMS = {"kind": "by_kind", "department_id": "by_department", "site_id": "by_site",
        "state": "by_state"}
TOTALS = ("count", "resolved", "on_time", "ack_mean", "ack_p50", "ack_p90", "close_mean",
          "close_p50", "close_p90")


def stats(conn: psycopg.Connection[Any], department: str, since: datetime,
          until: datetime, zone: str = "Asia/Shanghai") -> dict[str, Any]:
    """Counts by kind, department, assignee department and site; the share resolved on
    time; time to acknowledge and to close (seconds: mean, p50, p90); counts per day
    (days of the city's ``zone``)."""
    params = {"dept": department, "since": since, "until": until, "zone": zone}
    out: dict[str, Any] = {v: [] for v in DIMS.values()}
    out["per_day"] = []
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(COUNTS.format(scope=SCOPE), params).fetchall()
        whole = cur.execute(TOTALS_SQL.format(scope=SCOPE), params).fetchone()
        out["by_assignee"] = cur.execute(
            "SELECT a.department_id AS key, count(DISTINCT a.incident_id) AS count"
            " FROM incident_assignees a JOIN incidents i ON i.id = a.incident_id"
            f" WHERE {SCOPE} AND i.created_at >= %(since)s AND i.created_at < %(until)s"
            " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 50", params).fetchall()
    assert whole is not None
    totals = {k: (float(whole[k]) if isinstance(whole[k], Decimal | float) else whole[k])
              for k in TOTALS}
    order = [*DIMS, "day"]
    only = {31 - (1 << (4 - i)): d for i, d in enumerate(order)}  # grouping() of each set
    for r in rows:
        dim = only.get(r["g"])
        if dim == "day":
            out["per_day"].append({"day": r["day"].isoformat(), "count": r["count"],
                                   "closed": r["closed"]})
        elif dim is not None:
            out[DIMS[dim]].append({"key": r[dim] or "", "count": r["count"]})
    for key in DIMS.values():
        out[key] = sorted(out[key], key=lambda x: (-x["count"], x["key"]))[:50]
    out["per_day"].sort(key=lambda d: d["day"])
    totals["total"] = totals.pop("count")
    out["totals"] = totals
    out["on_time_share"] = totals["on_time"] / totals["resolved"] if totals["resolved"] else None
    return out
