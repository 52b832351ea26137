"""GB/T 28181 cascade: upper (superior) platforms this hub registers to, and the cameras
each department shares upward.

Revision ID: 0016_gb_cascade
Revises: 0015_ptz
Create Date: 2026-12-06

An upper platform is configured apart from lower devices (``gb_devices``): it is a
principal we register *to*, not one that registers to us (WVP keeps platform and cascade
apart the same way). Its password is sealed like device passwords and the API role cannot
read it. What it sees is deny-by-default: a ``gb_upper_shares`` row is one department
sharing one of its cameras, under a 20-digit channel ID of the upper's numbering; a row
whose department does not own the camera shares nothing (checked where it is read).
"""

from alembic import op

revision = "0016_gb_cascade"
down_revision = "0015_ptz"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE gb_uppers (
            id text PRIMARY KEY CHECK (id ~ '^[0-9]{20}$'),
            name text NOT NULL DEFAULT '',
            domain text NOT NULL,
            host text NOT NULL,
            port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
            transport text NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp')),
            local_id text NOT NULL CHECK (local_id ~ '^[0-9]{20}$'),
            username text NOT NULL,
            expires_s integer NOT NULL DEFAULT 3600 CHECK (expires_s > 0),
            keepalive_s integer NOT NULL DEFAULT 60 CHECK (keepalive_s > 0),
            max_missed integer NOT NULL DEFAULT 3 CHECK (max_missed > 0),
            enabled boolean NOT NULL DEFAULT true,
            -- state (the cascade client writes these)
            registered boolean NOT NULL DEFAULT false,
            registered_at timestamptz, last_keepalive_at timestamptz, last_error text,
            catalog_at timestamptz, catalog_sent integer, catalog_total integer,
            created_at timestamptz NOT NULL DEFAULT now()
        )
    """)
    op.execute("""
        CREATE TABLE gb_upper_secrets (
            upper_id text PRIMARY KEY REFERENCES gb_uppers (id) ON DELETE CASCADE,
            sealed bytea NOT NULL
        )
    """)
    op.execute("""
        CREATE TABLE gb_upper_shares (
            upper_id text NOT NULL REFERENCES gb_uppers (id) ON DELETE CASCADE,
            camera_id text NOT NULL,
            department_id text NOT NULL,
            channel_id text NOT NULL CHECK (channel_id ~ '^[0-9]{20}$'),
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz,
            revoked_by text,
            PRIMARY KEY (upper_id, camera_id)
        )
    """)
    op.execute("CREATE UNIQUE INDEX gb_upper_shares_channel ON gb_upper_shares"
               " (upper_id, channel_id) WHERE revoked_at IS NULL")
    op.execute(f"REVOKE ALL ON gb_upper_secrets FROM PUBLIC, {API_ROLE}")
    op.execute(f"GRANT SELECT ON gb_uppers, gb_upper_shares TO {API_ROLE}")


def downgrade() -> None:
    op.execute("DROP TABLE gb_upper_shares, gb_upper_secrets, gb_uppers")
