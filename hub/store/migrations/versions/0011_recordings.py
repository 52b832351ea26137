"""Recordings: the segment index, and grants that may allow playback within a time window.

Revision ID: 0011_recordings
Revises: 0006_media
Create Date: 2026-12-05

``recording_segments`` mirrors each relay node's segment journals (streams/recording):
camera, start, end, path, bytes, sha256 and the chain link; a hypertable (7-day chunks)
on TimescaleDB, a plain table otherwise. ``cityhub recordings index`` fills it.
Grants gain the ``playback`` resource (watching live is ``video``; playing recorded
footage needs ``playback`` too), optionally limited to footage recorded between
``playback_from`` and ``playback_to``.
"""

from alembic import op

revision = "0011_recordings"
down_revision = "0009_incidents"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"

SEGMENTS = """
CREATE TABLE recording_segments (
    camera_id text NOT NULL,
    seq bigint NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL CHECK (end_at >= start_at),
    node text NOT NULL DEFAULT '',
    path text NOT NULL,
    bytes bigint NOT NULL CHECK (bytes >= 0),
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    link text NOT NULL CHECK (link ~ '^[0-9a-f]{64}$'),
    recovered boolean NOT NULL DEFAULT false,
    held boolean NOT NULL DEFAULT false,
    tier text NOT NULL DEFAULT 'fast',
    deleted_at timestamptz,
    indexed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (camera_id, seq, start_at)
)
"""


def upgrade() -> None:
    op.execute(SEGMENTS)
    timescale = op.get_bind().exec_driver_sql("SELECT timescaledb FROM store_info").scalar()
    if timescale:
        op.execute(
            "SELECT create_hypertable('recording_segments', "
            "by_range('start_at', INTERVAL '7 days'), create_default_indexes => false)"
        )
    op.execute(
        "CREATE INDEX recording_segments_camera_time "
        "ON recording_segments (camera_id, start_at DESC)"
    )
    op.execute(f"GRANT SELECT ON recording_segments TO {API_ROLE}")
    op.execute("ALTER TABLE access_grants DROP CONSTRAINT access_grants_resources_check")
    op.execute(
        "ALTER TABLE access_grants ADD CONSTRAINT access_grants_resources_check CHECK "
        "(resources <@ ARRAY['video','events','readings','playback'] "
        "AND cardinality(resources) > 0)"
    )
    op.execute(
        "ALTER TABLE access_grants ADD COLUMN playback_from timestamptz, "
        "ADD COLUMN playback_to timestamptz"
    )


def downgrade() -> None:
    op.execute("DELETE FROM access_grants WHERE resources @> ARRAY['playback']")
    op.execute("ALTER TABLE access_grants DROP COLUMN playback_from, DROP COLUMN playback_to")
    op.execute("ALTER TABLE access_grants DROP CONSTRAINT access_grants_resources_check")
    op.execute(
        "ALTER TABLE access_grants ADD CONSTRAINT access_grants_resources_check CHECK "
        "(resources <@ ARRAY['video','events','readings'] AND cardinality(resources) > 0)"
    )
    op.execute("DROP TABLE recording_segments")
