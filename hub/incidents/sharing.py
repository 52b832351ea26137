"""Sharing what an incident holds with the departments it is dispatched to.

Through the existing grants (``access_grants``), bound to the incident by ``incident_id``:
a ``video`` grant for the attached cameras (live), a ``playback`` grant per attached camera
for the time span it was attached with (its recordings, no more), and an ``events`` grant
of exactly the attached events (``event_ids``). Only what the filing department owns is
shared (a department cannot grant another's resources). Grants are revoked with
:func:`hub.auth.grant_store.revoke_grant` like any revocation, when the assignment ends
(hand-back) or the incident is closed or cancelled; a change of what is attached replaces
them in the same transaction, so access never lapses in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from hub.auth import grant_store


@contextmanager
def as_department(conn: psycopg.Connection[Any], department: str) -> Iterator[None]:
    """Act for ``department`` inside this transaction (the grantor, for row-level security),
    then bind the previous department again."""
    row = conn.execute("SELECT current_setting('cityhub.department', true)").fetchone()
    before = row[0] if row else ""
    conn.execute("SELECT set_config('cityhub.department', %s, true)", (department,))
    try:
        yield
    finally:
        conn.execute("SELECT set_config('cityhub.department', %s, true)", (before or "",))


def _scope(conn: psycopg.Connection[Any], incident: dict[str, Any]) -> list[dict[str, Any]]:
    owner = incident["department_id"]
    cams = [r[0] for r in conn.execute(
        "SELECT DISTINCT camera_id FROM incident_cameras WHERE incident_id = %s"
        " AND department_id = %s ORDER BY 1", (incident["id"], owner)).fetchall()]
    events = [r[0] for r in conn.execute(
        "SELECT event_id FROM incident_events WHERE incident_id = %s AND department_id = %s"
        " ORDER BY event_id", (incident["id"], owner)).fetchall()]
    spans = conn.execute(
        "SELECT camera_id, min(starts_at), max(ends_at) FROM incident_cameras"
        " WHERE incident_id = %s AND department_id = %s GROUP BY camera_id ORDER BY 1",
        (incident["id"], owner)).fetchall()
    scopes = []
    if cams:
        scopes.append({"resources": ["video"], "cameras": cams, "sites": None, "kinds": None})
    for camera, start, end in spans:  # recordings: the attached time span of each camera
        scopes.append({"resources": ["playback"], "cameras": [camera], "sites": None,
                       "kinds": None, "playback_from": start, "playback_to": end})
    if events:  # exactly the attached events, not others of their kind at their site
        scopes.append({"resources": ["events"], "cameras": None, "sites": None, "kinds": None,
                       "event_ids": events})
    return scopes


def share(conn: psycopg.Connection[Any], incident: dict[str, Any], department: str,
          by: str, days: int) -> list[str]:
    """Grant ``department`` what ``incident`` holds; the new grants' ids."""
    if department == incident["department_id"]:
        return []
    ids = []
    expires = datetime.now(UTC) + timedelta(days=days)
    with as_department(conn, incident["department_id"]):
        for scope in _scope(conn, incident):
            fields = {
                "grantee": department, "starts_at": None, "expires_at": expires,
                "sensors": None, "systems": None,
                "purpose": f"incident #{incident['number']}: {incident['title']}"[:500],
                **scope,
            }
            row = grant_store.create_grant(conn, incident["department_id"], fields, by)
            conn.execute("UPDATE access_grants SET incident_id = %s WHERE id = %s",
                         (incident["id"], row["id"]))
            ids.append(str(row["id"]))
    return ids


def unshare(conn: psycopg.Connection[Any], incident: dict[str, Any], grant_ids: list[Any],
            by: str) -> list[str]:
    """Revoke the incident's grants ``grant_ids`` (already revoked ones are skipped)."""
    revoked = []
    with as_department(conn, incident["department_id"]):
        for gid in grant_ids:
            if grant_store.revoke_grant(conn, str(gid), incident["department_id"], by):
                revoked.append(str(gid))
    return revoked


def reshare(conn: psycopg.Connection[Any], incident: dict[str, Any], by: str, days: int) -> None:
    """After attachments changed: replace each active assignee department's grants."""
    rows = conn.execute(
        "SELECT department_id, array_agg(g) FROM incident_assignees, unnest(grant_ids) g"
        " WHERE incident_id = %s AND ended_at IS NULL AND department_id <> %s"
        " GROUP BY department_id", (incident["id"], incident["department_id"])).fetchall()
    depts = {r[0] for r in conn.execute(
        "SELECT department_id FROM incident_assignees WHERE incident_id = %s AND ended_at IS NULL"
        " AND department_id <> %s", (incident["id"], incident["department_id"])).fetchall()}
    old = {r[0]: r[1] for r in rows}
    for dept in depts:
        unshare(conn, incident, old.get(dept, []), by)
        ids = share(conn, incident, dept, by, days)
        conn.execute(
            "UPDATE incident_assignees SET grant_ids = %s WHERE incident_id = %s"
            " AND department_id = %s AND ended_at IS NULL", (ids, incident["id"], dept))
