"""View sessions know who watches and why they ended.

Revision ID: 0013_view_guard
Revises: 0012_gb28181
Create Date: 2026-12-05

A relay asks the hub whether each live view is still allowed (``hub/api/routers/
view_guard.py``). To answer, a session keeps the principal behind it (user or API key
id) and the login session that asked for it, so that a disabled user, a deleted key, a
logout or a revoked grant ends the view; the reason is kept for the viewer and the audit.
"""

from alembic import op

revision = "0013_view_guard"
down_revision = "0012_gb28181"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        ALTER TABLE view_sessions
            ADD COLUMN principal_kind text,
            ADD COLUMN principal_id text,
            ADD COLUMN login_session text,
            ADD COLUMN ended_at timestamptz,
            ADD COLUMN ended_code text,
            ADD COLUMN ended_reason text;
        CREATE INDEX view_sessions_open ON view_sessions (id) WHERE stopped_at IS NULL;
    """)


def downgrade() -> None:
    op.execute("""
        DROP INDEX IF EXISTS view_sessions_open;
        ALTER TABLE view_sessions
            DROP COLUMN principal_kind, DROP COLUMN principal_id, DROP COLUMN login_session,
            DROP COLUMN ended_at, DROP COLUMN ended_code, DROP COLUMN ended_reason;
    """)
