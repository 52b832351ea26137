"""Incidents: from an alarm to a closed case, across departments (GB/T 30428 flow).

Revision ID: 0009_incidents
Revises: 0006_media
Create Date: 2026-12-05

An incident belongs to the department that filed it and is seen by every department it
is assigned to (row-level security below says the same as the API's own checks). Sharing
what is attached with an assignee goes through ``access_grants``: such a grant carries
``incident_id`` and is revoked like any other when the assignment or the incident ends.
``version`` makes every transition a compare-and-set: of two operators acting at once
one wins, the other gets 409. ``next_due_at`` is when the hub's escalation task must
look at the incident next (a breach or the next escalation step); ``events_received``
lets the rule listener read new events by arrival.
"""

from alembic import op

revision = "0009_incidents"
down_revision = "0008_reading_values"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"

TABLES = """
CREATE TABLE incident_rules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    department_id text NOT NULL REFERENCES departments (id),
    name text NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    event_kinds text[] NOT NULL CHECK (cardinality(event_kinds) > 0),
    sites text[],
    min_severity smallint NOT NULL DEFAULT 0 CHECK (min_severity BETWEEN 0 AND 3),
    incident_kind text NOT NULL,
    priority smallint NOT NULL DEFAULT 2 CHECK (priority BETWEEN 1 AND 4),
    dispatch_to text[] NOT NULL DEFAULT '{}',
    merge_window_s integer NOT NULL DEFAULT 600 CHECK (merge_window_s BETWEEN 0 AND 604800),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_rules_department ON incident_rules (department_id);
CREATE SEQUENCE incident_numbers;
CREATE TABLE incidents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number bigint NOT NULL UNIQUE DEFAULT nextval('incident_numbers'),
    department_id text NOT NULL REFERENCES departments (id),
    kind text NOT NULL,
    priority smallint NOT NULL CHECK (priority BETWEEN 1 AND 4),
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    state text NOT NULL,
    source text NOT NULL,
    rule_id uuid REFERENCES incident_rules (id) ON DELETE SET NULL,
    site_id text,
    lat double precision CHECK (lat BETWEEN -90 AND 90),
    lon double precision CHECK (lon BETWEEN -180 AND 180),
    merge_key text,
    event_count integer NOT NULL DEFAULT 0,
    first_event_at timestamptz,
    last_event_at timestamptz,
    version integer NOT NULL DEFAULT 1,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    dispatched_at timestamptz,
    resolved_at timestamptz,
    verified_at timestamptz,
    closed_at timestamptz,
    cancelled_at timestamptz,
    cancel_reason text,
    acknowledge_due timestamptz,
    dispatch_due timestamptz,
    resolve_due timestamptz,
    breached text[] NOT NULL DEFAULT '{}',
    escalation_for text,
    escalation_level smallint NOT NULL DEFAULT 0,
    next_due_at timestamptz
);
CREATE INDEX incidents_queue ON incidents (department_id, created_at DESC, id);
CREATE INDEX incidents_state ON incidents (state, created_at DESC);
CREATE INDEX incidents_created ON incidents (created_at DESC, id);
CREATE INDEX incidents_due ON incidents (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX incidents_merge ON incidents (department_id, merge_key, last_event_at DESC)
    WHERE merge_key IS NOT NULL AND state IN ('new','acknowledged','dispatched','in_progress',
                                              'reopened');
CREATE TABLE incident_assignees (
    incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    department_id text NOT NULL REFERENCES departments (id),
    assignee text NOT NULL DEFAULT '',
    assigned_at timestamptz NOT NULL DEFAULT now(),
    assigned_by text NOT NULL,
    ended_at timestamptz,
    end_reason text,
    grant_ids uuid[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (incident_id, department_id, assignee, assigned_at)
);
CREATE INDEX incident_assignees_department ON incident_assignees (department_id, incident_id)
    WHERE ended_at IS NULL;
CREATE TABLE incident_events (
    incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    event_id uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    kind text NOT NULL,
    department_id text NOT NULL,
    site_id text NOT NULL,
    camera_id text,
    rule_id uuid,
    attached_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (incident_id, event_id)
);
CREATE UNIQUE INDEX incident_events_rule ON incident_events (rule_id, event_id)
    WHERE rule_id IS NOT NULL;
CREATE TABLE incident_cameras (
    incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    camera_id text NOT NULL,
    department_id text NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    attached_by text NOT NULL,
    PRIMARY KEY (incident_id, camera_id, starts_at)
);
CREATE TABLE incident_comments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    author text NOT NULL,
    department_id text,
    system boolean NOT NULL DEFAULT false,
    action text,
    body text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_comments_incident ON incident_comments (incident_id, id);
CREATE TABLE incident_photos (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    content_type text NOT NULL,
    width integer NOT NULL,
    height integer NOT NULL,
    size integer NOT NULL,
    sha256 text NOT NULL,
    data bytea NOT NULL,
    caption text NOT NULL DEFAULT '',
    uploaded_by text NOT NULL,
    department_id text NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE incident_photos ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX incident_photos_incident ON incident_photos (incident_id);
CREATE TABLE incident_notifications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    department_id text NOT NULL,
    role text,
    reason text NOT NULL,
    level smallint NOT NULL DEFAULT 0,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX incident_notifications_department ON incident_notifications (department_id, id);
CREATE TABLE incident_rule_cursor (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    received_at timestamptz NOT NULL
);
ALTER TABLE access_grants ADD COLUMN incident_id uuid;
CREATE INDEX access_grants_incident ON access_grants (incident_id) WHERE incident_id IS NOT NULL;
CREATE INDEX events_received ON events (received_at);
CREATE FUNCTION cityhub_incidents_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('cityhub_incidents', ''); RETURN NULL; END $$;
CREATE TRIGGER incident_comments_notify AFTER INSERT ON incident_comments
    FOR EACH STATEMENT EXECUTE FUNCTION cityhub_incidents_notify();
CREATE TRIGGER incident_notifications_notify AFTER INSERT ON incident_notifications
    FOR EACH STATEMENT EXECUTE FUNCTION cityhub_incidents_notify();
"""

#: Incidents another department may see besides its own: those it is (or was) assigned and
#: those it was notified of (escalations). SECURITY DEFINER: it reads the assignees without
#: recursing into their row-level security; used as an uncorrelated (hashed) subquery, so a
#: policy costs one evaluation per query, not one per row.
FUNCTIONS = """
CREATE FUNCTION cityhub_incident_ids() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER ROWS 100 SET search_path = public AS $$
    SELECT incident_id FROM incident_assignees WHERE department_id = cityhub_department()
    UNION SELECT incident_id FROM incident_notifications
     WHERE department_id = cityhub_department()
$$;
CREATE FUNCTION cityhub_sees_incident(incident uuid, owner text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT owner = cityhub_department() OR incident IN (SELECT cityhub_incident_ids())
$$;
"""

SEES = "(department_id = cityhub_department() OR id IN (SELECT cityhub_incident_ids()))"
CHILD_SEES = ("(incident_id IN (SELECT cityhub_incident_ids()) OR incident_id IN"
              " (SELECT id FROM incidents WHERE department_id = cityhub_department()))")
CHILDREN = ("incident_assignees", "incident_events", "incident_cameras", "incident_comments",
            "incident_photos", "incident_notifications")


def _policies() -> str:
    out = [
        f"GRANT SELECT, INSERT, UPDATE ON incidents, incident_rules TO {API_ROLE};",
        f"GRANT DELETE ON incident_rules TO {API_ROLE};",
        f"GRANT USAGE ON SEQUENCE incident_numbers TO {API_ROLE};",
        f"GRANT EXECUTE ON FUNCTION cityhub_sees_incident(uuid, text), cityhub_incident_ids()"
        f" TO {API_ROLE};",
        "ALTER TABLE incidents ENABLE ROW LEVEL SECURITY;",
        f"CREATE POLICY api_read ON incidents FOR SELECT TO {API_ROLE}"
        f" USING {SEES};",
        f"CREATE POLICY api_insert ON incidents FOR INSERT TO {API_ROLE}"
        " WITH CHECK (department_id = cityhub_department());",
        f"CREATE POLICY api_update ON incidents FOR UPDATE TO {API_ROLE}"
        f" USING {SEES} WITH CHECK {SEES};",
        "ALTER TABLE incident_rules ENABLE ROW LEVEL SECURITY;",
        f"CREATE POLICY api_all ON incident_rules FOR ALL TO {API_ROLE}"
        " USING (department_id = cityhub_department())"
        " WITH CHECK (department_id = cityhub_department());",
    ]
    for t in CHILDREN:
        out += [
            f"GRANT SELECT, INSERT, UPDATE ON {t} TO {API_ROLE};",
            f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;",
            f"CREATE POLICY api_all ON {t} FOR ALL TO {API_ROLE}"
            f" USING {CHILD_SEES} WITH CHECK {CHILD_SEES};",
        ]
    return "\n".join(out)


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(FUNCTIONS)
    op.execute(_policies())


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS events_received")
    op.execute("ALTER TABLE access_grants DROP COLUMN IF EXISTS incident_id")
    op.execute(
        "DROP TABLE IF EXISTS incident_rule_cursor, incident_notifications, incident_photos,"
        " incident_comments, incident_cameras, incident_events, incident_assignees, incidents,"
        " incident_rules CASCADE"
    )
    op.execute("DROP SEQUENCE IF EXISTS incident_numbers")
    op.execute("DROP FUNCTION IF EXISTS cityhub_sees_incident, cityhub_incident_ids,"
               " cityhub_incidents_notify")
