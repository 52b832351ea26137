"""Pending cameras: ONVIF devices found by edge boxes (or probed by an admin) awaiting a
decision; one row per department and device service URL (``xaddr``), however often seen.

A report only ever widens what is known: ``first_seen`` keeps the earliest, ``last_seen``
the latest, and the description (site, box, scopes, name) is taken from the newest report,
so a redelivered or late backlog report changes nothing. The state (pending, accepted,
rejected) is the admins' and never touched by reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from core.discovery import DiscoveryReport

_NEWER = "EXCLUDED.last_seen >= p.last_seen"
_DESCRIPTION = ("site_id", "device_id", "xaddrs", "endpoint", "scopes", "types", "name",
                "hardware")
UPSERT = (
    "INSERT INTO pending_cameras AS p (department_id, site_id, device_id, xaddr, xaddrs,"
    " endpoint, scopes, types, name, hardware, source, first_seen, last_seen)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (department_id, xaddr) DO UPDATE SET "
    + ", ".join(f"{c} = CASE WHEN {_NEWER} THEN coalesce(EXCLUDED.{c}, p.{c}) ELSE p.{c} END"
                for c in _DESCRIPTION)
    + ", first_seen = least(p.first_seen, EXCLUDED.first_seen),"
    " last_seen = greatest(p.last_seen, EXCLUDED.last_seen)"
    " RETURNING id"
)


@dataclass(frozen=True)
class Discovered:
    """A report with where it came from: the topic's department and site (authoritative),
    or the admin's department for a probe (site unknown until accepted)."""

    department: str
    site: str | None
    report: DiscoveryReport
    source: str = "discovery"  #: discovery (an edge box) or probe (an admin, through the hub)

    def params(self) -> tuple[Any, ...]:
        r = self.report
        return (self.department, self.site, r.device if self.source == "discovery" else None,
                r.xaddr, r.xaddrs, r.endpoint, r.scopes, r.types, r.name, r.hardware,
                self.source, r.first_seen, r.last_seen)


async def record(conn: psycopg.AsyncConnection[Any], rows: list[Discovered]) -> None:
    """Upsert reports (inside the caller's transaction)."""
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(UPSERT, [r.params() for r in rows])


def record_one(conn: psycopg.Connection[Any], row: Discovered) -> str:
    """Upsert one report (the API's probe); the pending camera's id."""
    found = conn.execute(UPSERT, row.params()).fetchone()
    assert found is not None  # an upsert always returns its row
    return str(found[0])
