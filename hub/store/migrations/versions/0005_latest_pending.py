"""Where latest-reading hints may lag: one row per writer holding unwritten hints.

Revision ID: 0005_latest_pending
Revises: 0004_rollup_access
Create Date: 2026-11-22

Writers no longer upsert ``latest_readings`` in every batch (hub/store/latest.py).
While a writer holds hints it has not written, its row here says from which
reading time the hints may be stale, so the latest query probes ``readings``
only from there on, and not at all when this table is empty. A row left by a
writer that died is folded into the hints by ``cityhub db maintain``.
"""

from alembic import op

revision = "0005_latest_pending"
down_revision = "0004_rollup_access"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE latest_pending (
            writer uuid PRIMARY KEY,
            since timestamptz NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
    """)
    op.execute(f"GRANT SELECT ON latest_pending TO {API_ROLE}")


def downgrade() -> None:
    op.execute("DROP TABLE latest_pending")
