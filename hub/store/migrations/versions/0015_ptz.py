"""PTZ arbitration: controller leases, incident locks, take-over notices; the ``ptz`` grant.

Revision ID: 0015_ptz
Revises: 0014_login_throttle
Create Date: 2026-12-06

The state lives here so that every hub replica arbitrates alike: a command locks the
camera's ``ptz_leases`` row (``SELECT ... FOR UPDATE``; the row is created on first use).
A free camera's row has no holder (and no expiry). ``ptz_locks`` holds a lock by the camera's owning
department (optionally for an incident); ``ptz_notices`` tells a controller it lost a
camera. Grants gain the ``ptz`` resource (moving a camera; narrowed by cameras, sites and
systems like ``video``, which it needs as well). Row-level security: a lease is read by
whoever sees the camera and written by whoever may move it; locks by the owner only.
"""

from alembic import op

revision = "0015_ptz"
down_revision = "0014_login_throttle"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"

TABLES = """
CREATE TABLE ptz_leases (
    camera_id text PRIMARY KEY REFERENCES cameras (id) ON DELETE CASCADE,
    holder_kind text,
    holder_id text,
    holder_actor text,
    department_id text REFERENCES departments (id),
    priority integer NOT NULL DEFAULT 0,
    acquired_at timestamptz,
    renewed_at timestamptz,
    expires_at timestamptz,
    CHECK ((holder_id IS NULL) = (department_id IS NULL))
);
CREATE TABLE ptz_locks (
    camera_id text PRIMARY KEY REFERENCES cameras (id) ON DELETE CASCADE,
    department_id text NOT NULL REFERENCES departments (id),
    incident_id uuid REFERENCES incidents (id) ON DELETE SET NULL,
    reason text NOT NULL,
    locked_by text NOT NULL,
    locked_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ptz_notices (
    id bigserial PRIMARY KEY,
    camera_id text NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    department_id text NOT NULL,
    holder_kind text NOT NULL,
    holder_id text NOT NULL,
    holder_actor text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('taken_over', 'locked')),
    by_actor text NOT NULL,
    by_department text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ptz_notices_holder ON ptz_notices (department_id, holder_kind, holder_id, id);
"""


def _sees(resources: str) -> str:
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
       AND (resource NOT IN ({resources}) OR g.cameras IS NULL OR camera = ANY (g.cameras))
       AND (resource NOT IN ({resources}) OR g.systems IS NULL OR system = ANY (g.systems))
       AND (resource <> 'events' OR g.kinds IS NULL OR kind = ANY (g.kinds))
       AND (resource <> 'readings' OR g.sensors IS NULL OR sensor = ANY (g.sensors)))
$$;
"""


SEES_CAMERA = "EXISTS (SELECT 1 FROM cameras c WHERE c.id = camera_id)"
OWNS_CAMERA = (
    "(department_id = cityhub_department() AND EXISTS (SELECT 1 FROM cameras c"
    " WHERE c.id = camera_id AND c.department_id = cityhub_department()))"
)
POLICIES = f"""
CREATE FUNCTION cityhub_may_move(camera text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM cameras c WHERE c.id = camera
        AND cityhub_sees('ptz', c.department_id, c.site_id, c.id, c.source_system, NULL, NULL))
$$;
GRANT EXECUTE ON FUNCTION cityhub_may_move(text) TO {API_ROLE};
GRANT SELECT, INSERT, UPDATE ON ptz_leases TO {API_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE ON ptz_locks TO {API_ROLE};
GRANT SELECT, INSERT ON ptz_notices TO {API_ROLE};
GRANT USAGE ON SEQUENCE ptz_notices_id_seq TO {API_ROLE};
ALTER TABLE ptz_leases ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON ptz_leases FOR SELECT TO {API_ROLE} USING ({SEES_CAMERA});
CREATE POLICY api_insert ON ptz_leases FOR INSERT TO {API_ROLE}
    WITH CHECK (cityhub_may_move(camera_id));
CREATE POLICY api_update ON ptz_leases FOR UPDATE TO {API_ROLE}
    USING (cityhub_may_move(camera_id)) WITH CHECK (cityhub_may_move(camera_id));
ALTER TABLE ptz_locks ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON ptz_locks FOR SELECT TO {API_ROLE} USING ({SEES_CAMERA});
CREATE POLICY api_write ON ptz_locks FOR ALL TO {API_ROLE}
    USING ({OWNS_CAMERA}) WITH CHECK ({OWNS_CAMERA});
ALTER TABLE ptz_notices ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON ptz_notices FOR SELECT TO {API_ROLE}
    USING (department_id = cityhub_department());
CREATE POLICY api_insert ON ptz_notices FOR INSERT TO {API_ROLE}
    WITH CHECK (by_department = cityhub_department());
"""


def _resources_check(resources: str) -> None:
    op.execute("ALTER TABLE access_grants DROP CONSTRAINT access_grants_resources_check")
    op.execute(
        "ALTER TABLE access_grants ADD CONSTRAINT access_grants_resources_check CHECK "
        f"(resources <@ ARRAY[{resources}] AND cardinality(resources) > 0)"
    )


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(_sees("'video', 'events', 'ptz'"))
    op.execute(POLICIES)
    _resources_check("'video','events','readings','playback','ptz'")


def downgrade() -> None:
    op.execute("UPDATE access_grants SET resources = array_remove(resources, 'ptz')")
    op.execute("DELETE FROM access_grants WHERE cardinality(resources) = 0")
    _resources_check("'video','events','readings','playback'")
    op.execute("DROP TABLE ptz_notices, ptz_locks, ptz_leases")
    op.execute("DROP FUNCTION cityhub_may_move(text)")
    op.execute(_sees("'video', 'events'"))
