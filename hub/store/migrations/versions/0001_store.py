"""The store: registry, events, weigh-in-motion, readings, dead letters, rollups.

Revision ID: 0001_store
Revises:
Create Date: 2026-11-22

Two physical layouts behind one logical schema (the query layer does not know
which one it talks to):

* TimescaleDB present (extension available and preloaded): ``events`` and
  ``readings`` are hypertables with 1-day chunks; with the Timescale-licensed
  build also compression (segment by site / sensor) and continuous aggregates
  named like the plain rollup tables, plus retention and refresh policies.
* Plain PostgreSQL: native range partitions (7-day) created ahead by the
  ``store_ensure_partitions`` function (``cityhub db maintain``), retention by
  dropping whole partitions, and rollup tables refreshed like continuous
  aggregates: the writer logs the hours it touched in ``rollup_invalidations``,
  queries count those hours from raw rows, maintenance folds them in.

What was chosen is recorded in ``store_info`` for the writer and maintenance.
"""

from alembic import op

revision = "0001_store"
down_revision = None
branch_labels = None
depends_on = None

#: Longer than the longest edge backlog we accept (edge boxes buffer a few days offline).
COMPRESS_AFTER = "7 days"
EVENTS_RETENTION = "365 days"
READINGS_RETENTION = "90 days"
MINUTE_ROLLUP_RETENTION = "35 days"
#: Plain path: partitions made at upgrade time around now (maintenance keeps going).
PARTITIONS_BEHIND = "40 days"
PARTITIONS_AHEAD = "14 days"

REGISTRY = """
CREATE TABLE departments (
    id text PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE sites (
    id text PRIMARY KEY,
    name text NOT NULL,
    department_id text NOT NULL REFERENCES departments (id),
    lat double precision CHECK (lat BETWEEN -90 AND 90),
    lon double precision CHECK (lon BETWEEN -180 AND 180)
);
CREATE TABLE cameras (
    id text PRIMARY KEY,
    name text NOT NULL,
    site_id text NOT NULL REFERENCES sites (id),
    department_id text NOT NULL REFERENCES departments (id),
    source_system text NOT NULL,
    always_on boolean NOT NULL DEFAULT false,
    lat double precision CHECK (lat BETWEEN -90 AND 90),
    lon double precision CHECK (lon BETWEEN -180 AND 180),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cameras_site ON cameras (site_id);
-- Sensors may first be seen on the wire (registered = false) before anyone configures them.
CREATE TABLE sensors (
    key integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL UNIQUE,
    site_id text NOT NULL,
    department_id text NOT NULL,
    kind text,
    lat double precision CHECK (lat BETWEEN -90 AND 90),
    lon double precision CHECK (lon BETWEEN -180 AND 180),
    registered boolean NOT NULL DEFAULT false,
    first_seen timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sensors_site ON sensors (site_id);
CREATE TABLE metrics (
    key integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    unit text
);
CREATE TABLE store_info (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    timescaledb boolean NOT NULL,
    license text,
    compression boolean NOT NULL,
    continuous_aggregates boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

FACTS = """
CREATE TABLE events (
    id uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    source_system text NOT NULL,
    kind text NOT NULL,
    severity smallint NOT NULL CHECK (severity BETWEEN 0 AND 3),
    department_id text NOT NULL,
    site_id text NOT NULL,
    camera_id text,
    device_id text,
    lat double precision CHECK (lat BETWEEN -90 AND 90),
    lon double precision CHECK (lon BETWEEN -180 AND 180),
    attributes jsonb NOT NULL DEFAULT '{}',
    media jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (id, occurred_at)
) EVENTS_PARTITIONING;
CREATE INDEX events_time ON events (occurred_at DESC, id DESC);
CREATE INDEX events_site_time ON events (site_id, occurred_at DESC, id DESC);
CREATE INDEX events_camera_time ON events (camera_id, occurred_at DESC) WHERE camera_id IS NOT NULL;
CREATE INDEX events_plate_time ON events ((attributes ->> 'plate'), occurred_at DESC)
    WHERE attributes ? 'plate';

-- Weigh-in-motion measurements may become evidence: typed columns, kept longer than events.
CREATE TABLE wim_records (
    event_id uuid PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    station text NOT NULL,
    lane smallint NOT NULL,
    plate text,
    gross_kg double precision NOT NULL CHECK (gross_kg > 0),
    axle_count smallint NOT NULL,
    axle_weights_kg double precision[] NOT NULL,
    speed_kmh double precision NOT NULL,
    calibration_id text NOT NULL,
    limit_kg double precision NOT NULL CHECK (limit_kg > 0),
    overweight boolean NOT NULL,
    excess_ratio double precision NOT NULL
);
CREATE INDEX wim_plate_time ON wim_records (plate, occurred_at DESC);
CREATE INDEX wim_station_time ON wim_records (station, occurred_at DESC);

CREATE TABLE readings (
    time timestamptz NOT NULL,
    sensor_key integer NOT NULL,
    metric_key integer NOT NULL,
    value double precision NOT NULL,
    quality smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (sensor_key, metric_key, time)
) READINGS_PARTITIONING;

-- The current value per sensor and metric, kept by the writer (dashboards ask this constantly).
CREATE TABLE latest_readings (
    sensor_key integer NOT NULL,
    metric_key integer NOT NULL,
    time timestamptz NOT NULL,
    value double precision NOT NULL,
    quality smallint NOT NULL,
    PRIMARY KEY (sensor_key, metric_key)
);

CREATE TABLE dead_letters (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic text NOT NULL,
    reason text NOT NULL,
    payload bytea NOT NULL,
    payload_size integer NOT NULL
);
CREATE INDEX dead_letters_time ON dead_letters (received_at DESC);
"""

ROLLUP_TABLES = """
CREATE TABLE event_counts_minute (
    bucket timestamptz NOT NULL,
    site_id text NOT NULL,
    kind text NOT NULL,
    department_id text NOT NULL,
    source_system text NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (site_id, bucket, kind, department_id, source_system)
);
CREATE INDEX event_counts_minute_bucket ON event_counts_minute (bucket);
CREATE TABLE event_counts_hour (LIKE event_counts_minute INCLUDING ALL);
-- City-wide hourly counts (no site): months of hourly counts read a few thousand rows.
CREATE TABLE event_counts_hour_citywide (
    bucket timestamptz NOT NULL,
    kind text NOT NULL,
    department_id text NOT NULL,
    source_system text NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (bucket, kind, department_id, source_system)
);
-- Hours whose events changed since the rollups were last refreshed (one row per hour a batch
-- touched). Queries count those hours from the raw rows; refresh_rollups() folds them in.
CREATE TABLE rollup_invalidations (
    lo timestamptz NOT NULL,
    hi timestamptz NOT NULL,
    logged_at timestamptz NOT NULL DEFAULT now()
);
"""

CAGG = """
CREATE MATERIALIZED VIEW {name}
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '{width}', occurred_at) AS bucket, site_id, kind, department_id,
       source_system, count(*) AS n
FROM events GROUP BY 1, 2, 3, 4, 5 WITH NO DATA;
CREATE INDEX ON {name} (site_id, bucket);
SELECT add_continuous_aggregate_policy('{name}', start_offset => INTERVAL '{start}',
    end_offset => INTERVAL '{width}', schedule_interval => INTERVAL '{every}');
"""

CITYWIDE_CAGG = """
CREATE MATERIALIZED VIEW event_counts_hour_citywide
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 hour', occurred_at) AS bucket, kind, department_id, source_system,
       count(*) AS n
FROM events GROUP BY 1, 2, 3, 4 WITH NO DATA;
SELECT add_continuous_aggregate_policy('event_counts_hour_citywide', start_offset => INTERVAL
    '35 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '10 minutes');
"""

READING_CAGG = """
CREATE MATERIALIZED VIEW {name}
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '{width}', time) AS bucket, sensor_key, metric_key, count(*) AS n,
       avg(value) AS avg, min(value) AS min, max(value) AS max
FROM readings GROUP BY 1, 2, 3 WITH NO DATA;
SELECT add_continuous_aggregate_policy('{name}', start_offset => INTERVAL '{start}',
    end_offset => INTERVAL '{width}', schedule_interval => INTERVAL '{every}');
"""

PARTITION_FUNCTIONS = """
-- Create the missing range partitions of `parent` covering [lo, hi) (weeks start on Monday, UTC).
CREATE FUNCTION store_ensure_partitions(parent regclass, lo timestamptz, hi timestamptz,
                                        width interval DEFAULT '7 days') RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    nsp text; rel text; part text; made integer := 0;
    start timestamptz := date_bin(width, lo, TIMESTAMPTZ '2000-01-03 00:00:00+00');
BEGIN
    SELECT n.nspname, c.relname INTO nsp, rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = parent;
    WHILE start < hi LOOP
        part := rel || '_p' || to_char(start AT TIME ZONE 'UTC', 'YYYYMMDD');
        IF to_regclass(format('%I.%I', nsp, part)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                           nsp, part, parent, start, start + width);
            made := made + 1;
        END IF;
        start := start + width;
    END LOOP;
    RETURN made;
END $$;

-- The partitions of `parent` with their bounds.
CREATE FUNCTION store_partitions(parent regclass)
RETURNS TABLE (partition regclass, lo timestamptz, hi timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT c.oid::regclass,
           substring(pg_get_expr(c.relpartbound, c.oid)
                     FROM 'FROM \\(''([^'']+)''\\)')::timestamptz,
           substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''([^'']+)''\\)')::timestamptz
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = parent
$$;

-- Drop the partitions of `parent` that hold only rows older than `cutoff`.
CREATE FUNCTION store_drop_partitions(parent regclass, cutoff timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE p record; dropped integer := 0;
BEGIN
    FOR p IN SELECT * FROM store_partitions(parent) WHERE hi <= cutoff ORDER BY lo LOOP
        EXECUTE format('DROP TABLE %s', p.partition);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;
"""


def _facts(events_partitioning: str, readings_partitioning: str) -> str:
    return FACTS.replace("EVENTS_PARTITIONING", events_partitioning).replace(
        "READINGS_PARTITIONING", readings_partitioning
    )


def _timescale_mode() -> tuple[bool, str | None]:
    """Use TimescaleDB when it is installed in this database or can be (available and preloaded)."""
    bind = op.get_bind()
    installed = bind.exec_driver_sql(
        "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"
    ).scalar()
    if not installed:
        available = bind.exec_driver_sql(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).scalar()
        preload = bind.exec_driver_sql("SHOW shared_preload_libraries").scalar() or ""
        if not (available and "timescaledb" in preload):
            return False, None
        op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    license_ = bind.exec_driver_sql("SHOW timescaledb.license").scalar()
    return True, license_


#: JIT compilation costs 100+ ms on this workload's short, index-driven queries (measured on
#: the 30-day count: 430-910 ms with JIT, 50-70 ms without); new sessions of this database
#: run without it.
NO_JIT = """
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'cityhub: could not turn JIT off for this database (not its owner)';
END $$;
"""


def upgrade() -> None:
    op.execute(NO_JIT)
    timescale, license_ = _timescale_mode()
    full = timescale and license_ == "timescale"  # compression and caggs are TSL features
    op.execute(REGISTRY)
    if timescale:
        op.execute(_facts("", ""))
        op.execute(
            "SELECT create_hypertable('events', by_range('occurred_at', INTERVAL '1 day'), "
            "create_default_indexes => false)"
        )
        op.execute(
            "SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'), "
            "create_default_indexes => false)"
        )
    else:
        op.execute(_facts("PARTITION BY RANGE (occurred_at)", "PARTITION BY RANGE (time)"))
        op.execute(PARTITION_FUNCTIONS)
        for table in ("events", "readings"):
            op.execute(
                f"SELECT store_ensure_partitions('{table}', now() - INTERVAL "
                f"'{PARTITIONS_BEHIND}', "
                f"now() + INTERVAL '{PARTITIONS_AHEAD}')"
            )
    if full:
        op.execute(
            CAGG.format(
                name="event_counts_minute", width="1 minute", start="35 days", every="1 minute"
            )
        )
        op.execute(
            CAGG.format(
                name="event_counts_hour", width="1 hour", start="35 days", every="10 minutes"
            )
        )
        op.execute(CITYWIDE_CAGG)
        op.execute(
            READING_CAGG.format(
                name="reading_stats_minute", width="1 minute", start="35 days", every="1 minute"
            )
        )
        op.execute(
            READING_CAGG.format(
                name="reading_stats_hour", width="1 hour", start="35 days", every="10 minutes"
            )
        )
        op.execute(
            "ALTER TABLE events SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = 'site_id', "
            "timescaledb.compress_orderby = 'occurred_at DESC, id DESC')"
        )
        op.execute(
            "ALTER TABLE readings SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = 'sensor_key, metric_key', "
            "timescaledb.compress_orderby = 'time DESC')"
        )
        op.execute(f"SELECT add_compression_policy('events', INTERVAL '{COMPRESS_AFTER}')")
        op.execute(f"SELECT add_compression_policy('readings', INTERVAL '{COMPRESS_AFTER}')")
        op.execute(f"SELECT add_retention_policy('events', INTERVAL '{EVENTS_RETENTION}')")
        op.execute(f"SELECT add_retention_policy('readings', INTERVAL '{READINGS_RETENTION}')")
        op.execute(
            "SELECT add_retention_policy('event_counts_minute', "
            f"INTERVAL '{MINUTE_ROLLUP_RETENTION}')"
        )
        op.execute(
            "SELECT add_retention_policy('reading_stats_minute', "
            f"INTERVAL '{MINUTE_ROLLUP_RETENTION}')"
        )
    else:
        op.execute(ROLLUP_TABLES)
    op.execute(
        "INSERT INTO store_info (timescaledb, license, compression, continuous_aggregates) "
        f"VALUES ({str(timescale).lower()}, {license_ and repr(license_) or 'NULL'}, "
        f"{str(full).lower()}, {str(full).lower()})"
    )


def downgrade() -> None:
    caggs = op.get_bind().exec_driver_sql("SELECT continuous_aggregates FROM store_info").scalar()
    if caggs:
        op.execute(
            "DROP MATERIALIZED VIEW event_counts_minute, event_counts_hour, "
            "event_counts_hour_citywide, "
            "reading_stats_minute, reading_stats_hour CASCADE"
        )
    else:
        op.execute(
            "DROP TABLE event_counts_minute, event_counts_hour, event_counts_hour_citywide, "
            "rollup_invalidations"
        )
    for table in ("readings", "events"):  # TimescaleDB drops a hypertable only on its own
        op.execute(f"DROP TABLE {table} CASCADE")
    op.execute(
        "DROP TABLE dead_letters, latest_readings, wim_records, store_info, metrics, "
        "sensors, cameras, sites, departments CASCADE"
    )
    op.execute(
        "DROP FUNCTION IF EXISTS store_drop_partitions, store_partitions, store_ensure_partitions"
    )
