"""Video-wall layouts: saved per user, optionally shared with the user's department.

Revision ID: 0003_layouts
Revises: 0002_access
Create Date: 2026-11-22

A layout is a grid (columns x rows, or custom tile spans) and the camera in each
tile. Row-level security keeps the API role inside the caller's department; who
within it (owner or shared) is the API's rule (hub/api/routers/layouts.py).
"""

from alembic import op

revision = "0003_layouts"
down_revision = "0002_access"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"

UP = f"""
CREATE TABLE wall_layouts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    department_id text NOT NULL REFERENCES departments (id),
    owner_id text NOT NULL,
    owner_name text NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    shared boolean NOT NULL DEFAULT false,
    columns smallint NOT NULL CHECK (columns BETWEEN 1 AND 8),
    rows smallint NOT NULL CHECK (rows BETWEEN 1 AND 8),
    tiles jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (department_id, owner_id, name)
);
CREATE INDEX wall_layouts_department ON wall_layouts (department_id, shared);
GRANT SELECT, INSERT, UPDATE, DELETE ON wall_layouts TO {API_ROLE};
ALTER TABLE wall_layouts ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_all ON wall_layouts TO {API_ROLE}
    USING (department_id = cityhub_department()) WITH CHECK (department_id = cityhub_department());
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS wall_layouts")
