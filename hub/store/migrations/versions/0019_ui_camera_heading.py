"""The map's camera cones and the wall that comes back: camera heading and field of view,
and each user's last wall.

Revision ID: 0019_ui_camera_heading
Revises: 0018_grant_events
Create Date: 2026-12-05

``cameras.heading`` (degrees clockwise from north, where the lens points) and
``cameras.fov`` (horizontal field of view in degrees) draw a camera's cone on the map
when known. ``wall_last`` keeps the grid each user last had on the wall (one row per user,
saved as they change it), so the wall comes back as they left it on any workstation; row-level
security keeps the API role inside the caller's department as for ``wall_layouts``.
"""

from alembic import op

revision = "0019_ui_camera_heading"
down_revision = "0018_grant_events"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"

UP = f"""
ALTER TABLE cameras
    ADD COLUMN heading real CHECK (heading >= 0 AND heading < 360),
    ADD COLUMN fov real CHECK (fov > 0 AND fov <= 360);
CREATE TABLE wall_last (
    department_id text NOT NULL REFERENCES departments (id),
    owner_id text NOT NULL,
    layout_id uuid REFERENCES wall_layouts (id) ON DELETE SET NULL,
    columns smallint NOT NULL CHECK (columns BETWEEN 1 AND 8),
    rows smallint NOT NULL CHECK (rows BETWEEN 1 AND 8),
    tiles jsonb NOT NULL DEFAULT '[]',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (department_id, owner_id)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON wall_last TO {API_ROLE};
ALTER TABLE wall_last ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_all ON wall_last TO {API_ROLE}
    USING (department_id = cityhub_department()) WITH CHECK (department_id = cityhub_department());
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS wall_last")
    op.execute("ALTER TABLE cameras DROP COLUMN IF EXISTS heading, DROP COLUMN IF EXISTS fov")
