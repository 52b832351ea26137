"""Grants of single events: an incident shares exactly the events attached to it.

Revision ID: 0018_grant_events
Revises: 0017_pending_cameras
Create Date: 2026-12-05

A dispatched incident used to share every event of its attached events' kinds at their
sites (grants had no finer scope). ``access_grants.event_ids`` names the events an
``events`` grant reaches, and nothing else: ``cityhub_sees`` (dimension grants, rollups)
leaves such grants out, and the events policy admits a row when a live grant names it
(``cityhub_shared_events``, read once per query). Where TimescaleDB compression rules out
row-level security on ``events`` the query layer's filter (``hub/auth/grants.py``) is the
only line, as before.
"""

from alembic import op

revision = "0018_grant_events"
down_revision = "0017_pending_cameras"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"


def _sees(single_events: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION cityhub_sees(resource text, dept text, site text, camera text,
                                        system text, kind text, sensor text)
RETURNS boolean LANGUAGE sql STABLE AS $$
SELECT dept = cityhub_department() OR EXISTS (
    SELECT 1 FROM access_grants g
     WHERE g.grantee_department = cityhub_department() AND g.grantor_department = dept
       AND g.revoked_at IS NULL AND g.expires_at > now()
       AND (g.starts_at IS NULL OR g.starts_at <= now())
       AND (resource = 'sites' OR resource = ANY (g.resources))
       AND (g.sites IS NULL OR site = ANY (g.sites))
       AND (resource NOT IN ('video', 'events', 'ptz') OR g.cameras IS NULL
            OR camera = ANY (g.cameras))
       AND (resource NOT IN ('video', 'events', 'ptz') OR g.systems IS NULL
            OR system = ANY (g.systems))
       AND (resource <> 'events' OR g.kinds IS NULL OR kind = ANY (g.kinds))
       AND (resource <> 'readings' OR g.sensors IS NULL OR sensor = ANY (g.sensors))
       {single_events})
$$;
"""


def _events_policy(using: str) -> str:
    return f"""
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_policies WHERE tablename = 'events' AND policyname = 'api_read')
    THEN
        DROP POLICY api_read ON events;
        CREATE POLICY api_read ON events FOR SELECT TO {API_ROLE} USING ({using});
    END IF;
END $$;
"""


DIMENSIONS = "cityhub_sees('events', department_id, site_id, camera_id, source_system, kind, NULL)"


def upgrade() -> None:
    op.execute("ALTER TABLE access_grants ADD COLUMN event_ids uuid[]")
    op.execute(_sees("AND (resource <> 'events' OR g.event_ids IS NULL)"))
    op.execute(f"""
CREATE FUNCTION cityhub_shared_events() RETURNS uuid[] LANGUAGE sql STABLE AS $$
SELECT coalesce(array_agg(e), '{{}}') FROM access_grants g, unnest(g.event_ids) e
 WHERE g.grantee_department = cityhub_department() AND 'events' = ANY (g.resources)
   AND g.revoked_at IS NULL AND g.expires_at > now()
   AND (g.starts_at IS NULL OR g.starts_at <= now())
$$;
GRANT EXECUTE ON FUNCTION cityhub_shared_events() TO {API_ROLE};
""")
    # A scalar subquery: evaluated once per query (an InitPlan), not once per row.
    shared = "id = ANY (CAST((SELECT cityhub_shared_events()) AS uuid[]))"
    op.execute(_events_policy(f"{DIMENSIONS} OR {shared}"))


def downgrade() -> None:
    op.execute(_events_policy(DIMENSIONS))
    op.execute("DROP FUNCTION cityhub_shared_events()")
    op.execute(_sees(""))
    op.execute("ALTER TABLE access_grants DROP COLUMN event_ids")
