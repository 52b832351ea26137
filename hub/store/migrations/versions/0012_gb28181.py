"""GB/T 28181: devices and lower platforms, their registrations, channels and media sessions.

Revision ID: 0012_gb28181
Revises: 0006_media
Create Date: 2026-12-05

State lives here, not in a SIP service's memory, so several service instances can
serve one city and a restarted instance takes its devices back without waiting for
them to re-register. Device passwords are sealed (Fernet, like camera credentials) and
the API role cannot read them. Channels become cameras (id = channel ID) owned by the
device's department; a channel a device stops listing is retired (``retired_at``), never
deleted: events and grants keep pointing at it.
"""

from alembic import op

revision = "0012_gb28181"
down_revision = "0011_recordings"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE gb_devices (
            id text PRIMARY KEY CHECK (id ~ '^[0-9]{20}$'),
            name text NOT NULL DEFAULT '',
            kind text NOT NULL DEFAULT 'device' CHECK (kind IN ('device', 'platform')),
            department_id text NOT NULL REFERENCES departments (id),
            site_id text NOT NULL REFERENCES sites (id),
            source_system text NOT NULL DEFAULT 'safecity',
            allow_from cidr[] NOT NULL DEFAULT '{}',
            keepalive_s integer NOT NULL DEFAULT 60 CHECK (keepalive_s > 0),
            enabled boolean NOT NULL DEFAULT true,
            media_transport text NOT NULL DEFAULT 'udp'
                CHECK (media_transport IN ('udp', 'tcp-passive', 'tcp-active')),
            -- registration (the SIP service writes these)
            transport text, contact_host text, contact_port integer,
            registered_at timestamptz, expires_at timestamptz, last_seen timestamptz,
            online boolean NOT NULL DEFAULT false,
            instance text,
            info jsonb, status jsonb,
            catalog_at timestamptz, catalog_complete boolean,
            created_at timestamptz NOT NULL DEFAULT now()
        )
    """)
    op.execute("CREATE INDEX gb_devices_online ON gb_devices (online) WHERE online")
    op.execute("""
        CREATE TABLE gb_device_secrets (
            device_id text PRIMARY KEY REFERENCES gb_devices (id) ON DELETE CASCADE,
            sealed bytea NOT NULL
        )
    """)
    op.execute("""
        CREATE TABLE gb_channels (
            device_id text NOT NULL REFERENCES gb_devices (id),
            id text NOT NULL,
            camera_id text REFERENCES cameras (id),
            name text NOT NULL,
            status text NOT NULL DEFAULT 'ON',
            civil_code text, parent_id text, manufacturer text, model text,
            lat double precision, lon double precision,
            retired_at timestamptz,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (device_id, id)
        )
    """)
    op.execute("""
        CREATE TABLE gb_sessions (
            call_id text PRIMARY KEY,
            device_id text NOT NULL,
            channel_id text NOT NULL,
            ssrc text NOT NULL,
            transport text NOT NULL,
            direction text NOT NULL DEFAULT 'in' CHECK (direction IN ('in', 'out')),
            peer text,
            instance text,
            started_at timestamptz NOT NULL DEFAULT now(),
            ended_at timestamptz,
            end_reason text
        )
    """)
    op.execute("CREATE INDEX gb_sessions_open ON gb_sessions (device_id) WHERE ended_at IS NULL")
    op.execute("""
        CREATE TABLE gb_refusals (
            at timestamptz NOT NULL DEFAULT now(),
            device_id text NOT NULL,
            peer text NOT NULL,
            reason text NOT NULL
        )
    """)
    op.execute("CREATE INDEX gb_refusals_at ON gb_refusals (at)")
    op.execute("ALTER TABLE cameras ADD COLUMN retired_at timestamptz")
    op.execute(f"REVOKE ALL ON gb_device_secrets FROM PUBLIC, {API_ROLE}")
    op.execute(f"GRANT SELECT ON gb_channels, gb_sessions, gb_refusals TO {API_ROLE}")
    op.execute(
        f"GRANT SELECT (id, name, kind, department_id, site_id, source_system, allow_from,"
        f" keepalive_s, enabled, media_transport, transport, contact_host, contact_port,"
        f" registered_at, expires_at, last_seen, online, instance, info, status, catalog_at,"
        f" catalog_complete, created_at) ON gb_devices TO {API_ROLE}"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE cameras DROP COLUMN retired_at")
    op.execute("DROP TABLE gb_refusals, gb_sessions, gb_channels, gb_device_secrets, gb_devices")
