"""Sharing grants in PostgreSQL: load the caller's active grants, create, revoke."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from hub.auth.grants import Grant, Visibility, as_set
from hub.store.scalar import clock

COLUMNS = (
    "id, grantor_department, grantee_department, resources, cameras, sites, sensors,"
    " systems, kinds, purpose, starts_at, expires_at, created_by, created_at, revoked_at,"
    " revoked_by, playback_from, playback_to, incident_id, event_ids"
)
#: The number of the incident a grant is bound to (row-level security: visible to both sides).
INCIDENT_NUMBER = (
    "(SELECT number FROM incidents i WHERE i.id = access_grants.incident_id) AS incident_number"
)


def to_grant(row: dict[str, Any]) -> Grant:
    return Grant(
        id=str(row["id"]),
        grantor=row["grantor_department"],
        grantee=row["grantee_department"],
        resources=frozenset(row["resources"]),
        expires_at=row["expires_at"],
        starts_at=row["starts_at"],
        revoked_at=row["revoked_at"],
        cameras=as_set(row["cameras"]),
        sites=as_set(row["sites"]),
        sensors=as_set(row["sensors"]),
        systems=as_set(row["systems"]),
        kinds=as_set(row["kinds"]),
        purpose=row["purpose"],
        playback_from=row.get("playback_from"),
        playback_to=row.get("playback_to"),
        event_ids=as_set([str(e) for e in row["event_ids"]] if row.get("event_ids") else None),
    )


def visibility(conn: psycopg.Connection[Any], department: str) -> Visibility:
    """What ``department`` may see at this instant (read fresh for every request)."""
    with conn.cursor(row_factory=dict_row) as cur:
        now = clock(cur.connection)
        rows = cur.execute(
            f"SELECT {COLUMNS} FROM access_grants WHERE grantee_department = %s"
            " AND revoked_at IS NULL AND expires_at > %s",
            (department, now),
        ).fetchall()
    return Visibility.compute(department, [to_grant(r) for r in rows], now)


def list_grants(conn: psycopg.Connection[Any], department: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {COLUMNS}, {INCIDENT_NUMBER} FROM access_grants WHERE grantor_department = %s"
            " OR grantee_department = %s ORDER BY created_at DESC, id",
            (department, department),
        ).fetchall()


def get_grant(
    conn: psycopg.Connection[Any], grant_id: str, department: str
) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {COLUMNS}, {INCIDENT_NUMBER} FROM access_grants WHERE id = %s"
            " AND (grantor_department = %s"
            " OR grantee_department = %s)",
            (grant_id, department, department),
        ).fetchone()


def create_grant(
    conn: psycopg.Connection[Any], grantor: str, fields: dict[str, Any], created_by: str
) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "INSERT INTO access_grants (grantor_department, grantee_department, resources, cameras,"
            " sites, sensors, systems, kinds, purpose, starts_at, expires_at, created_by,"
            " playback_from, playback_to, event_ids)"
            " VALUES (%(grantor)s, %(grantee)s, %(resources)s, %(cameras)s, %(sites)s, %(sensors)s,"
            " %(systems)s, %(kinds)s, %(purpose)s, %(starts_at)s, %(expires_at)s, %(by)s,"
            " %(playback_from)s, %(playback_to)s, %(event_ids)s)"
            f" RETURNING {COLUMNS}",
            {
                "playback_from": None,
                "playback_to": None,
                "event_ids": None,
                **fields,
                "grantor": grantor,
                "by": created_by,
            },
        ).fetchone()
    assert row is not None
    return row


def revoke_grant(
    conn: psycopg.Connection[Any], grant_id: str, grantor: str, revoked_by: str
) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "UPDATE access_grants SET revoked_at = clock_timestamp(), revoked_by = %s"
            " WHERE id = %s AND grantor_department = %s AND revoked_at IS NULL"
            f" RETURNING {COLUMNS}",
            (revoked_by, grant_id, grantor),
        ).fetchone()
