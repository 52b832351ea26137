"""Access: users, API keys, refresh tokens, sharing grants, audit log, view sessions,
write-only camera credentials, the API's database role and row-level security.

Revision ID: 0002_access
Revises: 0001_store
Create Date: 2026-11-22

The API connects as ``cityhub_api``, which owns nothing: row-level security on
the store's tables (enabled, not forced, so the owner-side ingest is untouched)
limits it to what the department in ``cityhub.department`` (set per transaction
by the API) owns or has been granted — a second, independent statement of the
rule the API already puts in every query. It may append to ``audit_log`` but
never change or delete a row, and it cannot read ``camera_secrets`` at all: it
writes credentials through a SECURITY DEFINER function.
"""

from alembic import op

revision = "0002_access"
down_revision = "0001_store"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"

TABLES = """
CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    display_name text NOT NULL DEFAULT '',
    department_id text NOT NULL REFERENCES departments (id),
    roles text[] NOT NULL DEFAULT '{}',
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz,
    failed_logins integer NOT NULL DEFAULT 0,
    last_failed_at timestamptz
);
CREATE TABLE api_keys (
    id text PRIMARY KEY,
    name text NOT NULL,
    department_id text NOT NULL REFERENCES departments (id),
    roles text[] NOT NULL DEFAULT '{}',
    secret_sha256 text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz
);
CREATE TABLE refresh_tokens (
    token_sha256 text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family uuid NOT NULL,
    issued_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE TABLE access_grants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    grantor_department text NOT NULL REFERENCES departments (id),
    grantee_department text NOT NULL REFERENCES departments (id),
    resources text[] NOT NULL CHECK (resources <@ ARRAY['video','events','readings']
                                     AND cardinality(resources) > 0),
    cameras text[], sites text[], sensors text[], systems text[], kinds text[],
    purpose text NOT NULL CHECK (length(purpose) BETWEEN 3 AND 500),
    starts_at timestamptz,
    expires_at timestamptz NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    revoked_by text,
    CHECK (grantor_department <> grantee_department)
);
CREATE INDEX access_grants_grantee ON access_grants (grantee_department) WHERE revoked_at IS NULL;
CREATE TABLE audit_log (
    seq bigint PRIMARY KEY,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    actor_department text,
    action text NOT NULL,
    target_type text,
    target_id text,
    department text,
    detail jsonb NOT NULL DEFAULT '{}',
    prev_hash text NOT NULL,
    hash text NOT NULL UNIQUE
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TABLE view_sessions (
    id uuid PRIMARY KEY,
    camera_id text NOT NULL,
    department_id text NOT NULL,
    viewer text NOT NULL,
    protocols text[] NOT NULL,
    issued_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    started_at timestamptz,
    stopped_at timestamptz
);
CREATE INDEX view_sessions_camera ON view_sessions (camera_id, issued_at DESC);
CREATE TABLE camera_secrets (
    camera_id text PRIMARY KEY REFERENCES cameras (id) ON DELETE CASCADE,
    sealed bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""

FUNCTIONS = """
CREATE FUNCTION cityhub_department() RETURNS text LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('cityhub.department', true), '') $$;

CREATE FUNCTION cityhub_sees(resource text, dept text, site text, camera text, system text,
                             kind text, sensor text) RETURNS boolean LANGUAGE sql STABLE AS $$
SELECT dept = cityhub_department() OR EXISTS (
    SELECT 1 FROM access_grants g
     WHERE g.grantee_department = cityhub_department() AND g.grantor_department = dept
       AND g.revoked_at IS NULL AND g.expires_at > now()
       AND (g.starts_at IS NULL OR g.starts_at <= now())
       AND (resource = 'sites' OR resource = ANY (g.resources))
       AND (g.sites IS NULL OR site = ANY (g.sites))
       AND (resource NOT IN ('video', 'events') OR g.cameras IS NULL OR camera = ANY (g.cameras))
       AND (resource NOT IN ('video', 'events') OR g.systems IS NULL OR system = ANY (g.systems))
       AND (resource <> 'events' OR g.kinds IS NULL OR kind = ANY (g.kinds))
       AND (resource <> 'readings' OR g.sensors IS NULL OR sensor = ANY (g.sensors)))
$$;

-- Write-only camera credentials: the API may set them but never read them back.
CREATE FUNCTION cityhub_set_camera_secret(camera text, sealed_value bytea) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    INSERT INTO camera_secrets (camera_id, sealed) VALUES (camera, sealed_value)
    ON CONFLICT (camera_id) DO UPDATE SET sealed = excluded.sealed, updated_at = now()
$$;
CREATE FUNCTION cityhub_camera_has_secret(camera text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT EXISTS (SELECT 1 FROM camera_secrets WHERE camera_id = camera)
$$;

-- Live events: one wake-up per inserting statement; listeners re-query through their filters.
CREATE FUNCTION cityhub_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('cityhub_events', ''); RETURN NULL; END $$;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION cityhub_events_notify();
"""

ROLE = f"""
DO $$ BEGIN
    CREATE ROLE {API_ROLE} LOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
REVOKE ALL ON camera_secrets FROM PUBLIC;
REVOKE ALL ON FUNCTION cityhub_set_camera_secret(text, bytea) FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO {API_ROLE};
GRANT SELECT ON departments, metrics, store_info, events, wim_records, readings,
    latest_readings TO {API_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE ON sites, cameras, sensors TO {API_ROLE};
GRANT SELECT, INSERT, UPDATE ON users, api_keys, access_grants, view_sessions TO {API_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE ON refresh_tokens TO {API_ROLE};
GRANT SELECT, INSERT ON audit_log TO {API_ROLE};
GRANT EXECUTE ON FUNCTION cityhub_set_camera_secret(text, bytea),
    cityhub_camera_has_secret(text) TO {API_ROLE};
"""

OWN = "department_id = cityhub_department()"
POLICIES = f"""
ALTER TABLE cameras ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON cameras FOR SELECT TO {API_ROLE}
    USING (cityhub_sees('video', department_id, site_id, id, source_system, NULL, NULL));
CREATE POLICY api_insert ON cameras FOR INSERT TO {API_ROLE} WITH CHECK ({OWN});
CREATE POLICY api_update ON cameras FOR UPDATE TO {API_ROLE} USING ({OWN}) WITH CHECK ({OWN});
CREATE POLICY api_delete ON cameras FOR DELETE TO {API_ROLE} USING ({OWN});
ALTER TABLE sites ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON sites FOR SELECT TO {API_ROLE}
    USING (cityhub_sees('sites', department_id, id, NULL, NULL, NULL, NULL));
CREATE POLICY api_insert ON sites FOR INSERT TO {API_ROLE} WITH CHECK ({OWN});
CREATE POLICY api_update ON sites FOR UPDATE TO {API_ROLE} USING ({OWN}) WITH CHECK ({OWN});
CREATE POLICY api_delete ON sites FOR DELETE TO {API_ROLE} USING ({OWN});
ALTER TABLE sensors ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON sensors FOR SELECT TO {API_ROLE}
    USING (cityhub_sees('readings', department_id, site_id, NULL, NULL, NULL, id));
CREATE POLICY api_insert ON sensors FOR INSERT TO {API_ROLE} WITH CHECK ({OWN});
CREATE POLICY api_update ON sensors FOR UPDATE TO {API_ROLE} USING ({OWN}) WITH CHECK ({OWN});
CREATE POLICY api_delete ON sensors FOR DELETE TO {API_ROLE} USING ({OWN});
ALTER TABLE latest_readings ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON latest_readings FOR SELECT TO {API_ROLE}
    USING (EXISTS (SELECT 1 FROM sensors s WHERE s.key = sensor_key));
ALTER TABLE access_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON access_grants FOR SELECT TO {API_ROLE}
    USING (grantor_department = cityhub_department() OR grantee_department = cityhub_department());
CREATE POLICY api_insert ON access_grants FOR INSERT TO {API_ROLE}
    WITH CHECK (grantor_department = cityhub_department());
CREATE POLICY api_update ON access_grants FOR UPDATE TO {API_ROLE}
    USING (grantor_department = cityhub_department())
    WITH CHECK (grantor_department = cityhub_department());
"""

#: Fact tables: TimescaleDB refuses row-level security on hypertables with compression, so
#: there the query layer's filter is the only line (store_info.compression says which).
FACT_POLICIES = f"""
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON events FOR SELECT TO {API_ROLE}
    USING (cityhub_sees('events', department_id, site_id, camera_id, source_system, kind, NULL));
ALTER TABLE readings ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON readings FOR SELECT TO {API_ROLE}
    USING (EXISTS (SELECT 1 FROM sensors s WHERE s.key = sensor_key));
"""

ROLLUP_POLICY = """
ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON {t} FOR SELECT TO {role}
    USING (cityhub_sees('events', department_id, site_id, NULL, source_system, kind, NULL));
GRANT SELECT ON {t} TO {role};
"""


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(FUNCTIONS)
    op.execute(ROLE)
    op.execute(POLICIES)
    bind = op.get_bind()
    if not bind.exec_driver_sql("SELECT compression FROM store_info").scalar():
        op.execute(FACT_POLICIES)
    for t in (
        "event_counts_minute",
        "event_counts_hour",
        "reading_stats_minute",
        "reading_stats_hour",
    ):
        # Plain tables get a policy; TimescaleDB continuous aggregates cannot carry one: there
        # the query layer's visibility filter is the only line.
        kind = bind.exec_driver_sql(f"SELECT relkind FROM pg_class WHERE relname = '{t}'").scalar()
        if kind == "r":
            op.execute(ROLLUP_POLICY.format(t=t, role=API_ROLE))
        elif kind is not None:
            op.execute(f"GRANT SELECT ON {t} TO {API_ROLE}")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS events_notify ON events")
    for t in (
        "events",
        "cameras",
        "sites",
        "sensors",
        "readings",
        "latest_readings",
        "event_counts_minute",
        "event_counts_hour",
    ):
        op.execute(
            f"DO $$ BEGIN EXECUTE 'DROP POLICY IF EXISTS api_read ON {t}'; "
            f"EXECUTE 'ALTER TABLE {t} DISABLE ROW LEVEL SECURITY'; "
            "EXCEPTION WHEN undefined_table OR wrong_object_type OR feature_not_supported"
            " THEN NULL; END $$"
        )
        for p in ("api_insert", "api_update", "api_delete"):
            op.execute(
                f"DO $$ BEGIN EXECUTE 'DROP POLICY IF EXISTS {p} ON {t}'; "
                "EXCEPTION WHEN undefined_table OR wrong_object_type OR feature_not_supported"
                " THEN NULL; END $$"
            )
    op.execute(
        "DROP TABLE IF EXISTS camera_secrets, view_sessions, audit_log, access_grants, "
        "refresh_tokens, api_keys, users CASCADE"
    )
    op.execute(
        "DROP FUNCTION IF EXISTS cityhub_events_notify, cityhub_camera_has_secret, "
        "cityhub_set_camera_secret, cityhub_sees, cityhub_department"
    )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {API_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {API_ROLE}")
