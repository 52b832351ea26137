"""Pending cameras: ONVIF devices edge boxes found (WS-Discovery) or admins probed, until an
admin of the department accepts (creating the camera) or rejects them.

Revision ID: 0017_pending_cameras
Revises: 0016_gb_cascade
Create Date: 2026-12-08

One row per department and device service URL (``xaddr``); ingest (the tables' owner)
upserts reports, the API role reads and decides its own department's rows only (RLS).
No credentials here: accepting stores them sealed with the camera (``camera_secrets``).
"""

from alembic import op

revision = "0017_pending_cameras"
down_revision = "0016_gb_cascade"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"
OWN = "department_id = cityhub_department()"

UP = f"""
CREATE TABLE pending_cameras (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    department_id text NOT NULL,
    site_id text,
    device_id text,
    xaddr text NOT NULL,
    xaddrs text[] NOT NULL,
    endpoint text NOT NULL DEFAULT '',
    scopes text[] NOT NULL DEFAULT '{{}}',
    types text[] NOT NULL DEFAULT '{{}}',
    name text NOT NULL DEFAULT '',
    hardware text NOT NULL DEFAULT '',
    source text NOT NULL CHECK (source IN ('discovery', 'probe')),
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'accepted', 'rejected')),
    decided_by text,
    decided_at timestamptz,
    reason text,
    camera_id text REFERENCES cameras (id) ON DELETE SET NULL,
    UNIQUE (department_id, xaddr)
);
CREATE INDEX pending_cameras_state ON pending_cameras (department_id, state, last_seen DESC);
GRANT SELECT, INSERT, UPDATE ON pending_cameras TO {API_ROLE};
ALTER TABLE pending_cameras ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON pending_cameras FOR SELECT TO {API_ROLE} USING ({OWN});
CREATE POLICY api_insert ON pending_cameras FOR INSERT TO {API_ROLE} WITH CHECK ({OWN});
CREATE POLICY api_update ON pending_cameras FOR UPDATE TO {API_ROLE}
    USING ({OWN}) WITH CHECK ({OWN});
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute("DROP TABLE pending_cameras")
