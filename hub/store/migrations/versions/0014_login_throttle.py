"""Login throttle: failed logins per source, per (account, source) and per account.

Revision ID: 0014_login_throttle
Revises: 0013_view_guard
Create Date: 2026-12-06

Replaces the per-user lockout (users.failed_logins, which let anyone who knew a name lock
its owner out) with growing delays (hub/auth/throttle.py). The state is here, not in a
process's memory, so every hub process applies the same delays. Keys: ``source`` (username
''), ``pair`` (both) and ``account`` (source ''); the API role reads and writes them (no
row-level security: the login has no department yet).
"""

from alembic import op

revision = "0014_login_throttle"
down_revision = "0013_view_guard"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE login_throttle (
            kind text NOT NULL CHECK (kind IN ('source', 'pair', 'account')),
            username text NOT NULL DEFAULT '',
            source text NOT NULL DEFAULT '',
            failures integer NOT NULL CHECK (failures > 0),
            last_failed_at timestamptz NOT NULL,
            PRIMARY KEY (kind, username, source)
        )
    """)
    op.execute("CREATE INDEX login_throttle_age ON login_throttle (last_failed_at)")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO {API_ROLE}")
    op.execute("ALTER TABLE users DROP COLUMN failed_logins, DROP COLUMN last_failed_at")


def downgrade() -> None:
    op.execute(
        "ALTER TABLE users ADD COLUMN failed_logins integer NOT NULL DEFAULT 0,"
        " ADD COLUMN last_failed_at timestamptz"
    )
    op.execute("DROP TABLE login_throttle")
