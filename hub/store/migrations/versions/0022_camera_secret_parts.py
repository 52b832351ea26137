"""Camera credentials change one part at a time: a new URL keeps the login, a new password
keeps the URL.

Revision ID: 0022_camera_secret_parts
Revises: 0021_gb_share_playback
Create Date: 2026-12-06

The API seals what it is given but can never read a camera's secret back, so it cannot
merge an edit into the sealed whole. Each part an edit sends (``url``, ``username``,
``password``) is sealed on its own into ``camera_secret_parts`` and laid over the whole
when the relay opens it; setting the whole again drops the parts. Same rights as the
whole: the API role may write through a function and read nothing.
"""

from alembic import op

revision = "0022_camera_secret_parts"
down_revision = "0021_gb_share_playback"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"

UPGRADE = f"""
CREATE TABLE camera_secret_parts (
    camera_id text NOT NULL REFERENCES camera_secrets (camera_id) ON DELETE CASCADE,
    part text NOT NULL CHECK (part IN ('url', 'username', 'password')),
    sealed bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (camera_id, part)
);
REVOKE ALL ON camera_secret_parts FROM PUBLIC;

CREATE OR REPLACE FUNCTION cityhub_set_camera_secret(camera text, sealed_value bytea)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    INSERT INTO camera_secrets (camera_id, sealed) VALUES (camera, sealed_value)
    ON CONFLICT (camera_id) DO UPDATE SET sealed = excluded.sealed, updated_at = now();
    DELETE FROM camera_secret_parts WHERE camera_id = camera;
$$;

-- False when the camera has no secret yet (a part needs a whole to lie over).
CREATE FUNCTION cityhub_set_camera_secret_part(camera text, part_name text, sealed_value bytea)
RETURNS boolean LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    INSERT INTO camera_secret_parts (camera_id, part, sealed)
    SELECT camera_id, part_name, sealed_value FROM camera_secrets WHERE camera_id = camera
    ON CONFLICT (camera_id, part) DO UPDATE SET sealed = excluded.sealed, updated_at = now()
    RETURNING true;
$$;
REVOKE ALL ON FUNCTION cityhub_set_camera_secret_part(text, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cityhub_set_camera_secret_part(text, text, bytea) TO {API_ROLE};
"""

DOWNGRADE = """
DROP FUNCTION cityhub_set_camera_secret_part(text, text, bytea);
DROP TABLE camera_secret_parts;
CREATE OR REPLACE FUNCTION cityhub_set_camera_secret(camera text, sealed_value bytea)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    INSERT INTO camera_secrets (camera_id, sealed) VALUES (camera, sealed_value)
    ON CONFLICT (camera_id) DO UPDATE SET sealed = excluded.sealed, updated_at = now()
$$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
