"""Media objects copied from edge boxes: evidence outlives the box that took it.

Revision ID: 0006_media
Revises: 0005_latest_pending
Create Date: 2026-11-22

Edge boxes publish each snapshot and clip they reference (``city/<dept>/<site>/edge/
media/<sha256>``, hub/ingest); ingest stores the bytes here under their sha256, so the
event console and evidence bundles no longer depend on reaching the box. In the
database rather than on a shared disk: stored in the same transaction as the batch,
no volume shared between ingest and API replicas, and part of the database's backups.
Pictures and clips are already compressed: ``STORAGE EXTERNAL`` skips trying again.
"""

from alembic import op

revision = "0006_media"
down_revision = "0005_latest_pending"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE media (
            sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
            content_type text NOT NULL,
            size integer NOT NULL,
            data bytea NOT NULL,
            department_id text NOT NULL,
            site_id text NOT NULL,
            stored_at timestamptz NOT NULL DEFAULT now()
        )
    """)
    op.execute("ALTER TABLE media ALTER COLUMN data SET STORAGE EXTERNAL")
    op.execute("CREATE INDEX media_stored_at ON media (stored_at)")
    op.execute(f"GRANT SELECT ON media TO {API_ROLE}")


def downgrade() -> None:
    op.execute("DROP TABLE media")
