"""Readings keep every SenML value type: sums beside values, booleans, strings, data, ut.

Revision ID: 0008_reading_values
Revises: 0006_media
Create Date: 2026-12-05

RFC 8428 4.2-4.3: a record carries a numeric value (``v``), a sum (``s``), a boolean
(``vb``), a string (``vs``) or binary data (``vd``), and may say when the next value is
due (``ut``). Each has its own nullable column, so nothing is coerced into a number;
``value`` becomes nullable (a record with only a string or a sum has no number). On
TimescaleDB, adding nullable columns is allowed on compressed hypertables, and so is
dropping NOT NULL from 2.18 (older versions: see ``_drop_not_null_on_value``). The
reading continuous aggregates are rebuilt with ``n = count(value)`` (numbers only), so
that a bucket's average stays exact when a series also carries non-numeric readings;
``cityhub db maintain`` (or the refresh policy) materialises them again.
"""

from alembic import op

revision = "0008_reading_values"
down_revision = "0006_media"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"
#: The reading rollups of 0001_store, with n counting numbers only.
READING_CAGG = """
CREATE MATERIALIZED VIEW {name}
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '{width}', time) AS bucket, sensor_key, metric_key,
       count({counted}) AS n, avg(value) AS avg, min(value) AS min, max(value) AS max
FROM readings GROUP BY 1, 2, 3 WITH NO DATA;
SELECT add_continuous_aggregate_policy('{name}', start_offset => INTERVAL '35 days',
    end_offset => INTERVAL '{width}', schedule_interval => INTERVAL '{every}');
GRANT SELECT ON {name} TO {role};
"""


def _rebuild_reading_rollups(counted: str) -> None:
    if not op.get_bind().exec_driver_sql("SELECT continuous_aggregates FROM store_info").scalar():
        return  # plain PostgreSQL: reading series are computed from raw rows
    op.execute("DROP MATERIALIZED VIEW reading_stats_minute, reading_stats_hour")
    for name, width, every in (
        ("reading_stats_minute", "1 minute", "1 minute"),
        ("reading_stats_hour", "1 hour", "10 minutes"),
    ):
        op.execute(
            READING_CAGG.format(name=name, width=width, every=every, counted=counted, role=API_ROLE)
        )
    op.execute("SELECT add_retention_policy('reading_stats_minute', INTERVAL '35 days')")


COLUMNS = (
    ("sum", "double precision"),
    ("value_bool", "boolean"),
    ("value_text", "text"),
    ("value_data", "bytea"),
    ("update_s", "double precision"),
)


def _drop_not_null_on_value() -> None:
    """TimescaleDB before 2.18 refuses ``DROP NOT NULL`` on a hypertable with compression
    enabled (timescale/timescaledb#7455): there, decompress, alter, compress again."""
    bind = op.get_bind()
    version = bind.exec_driver_sql(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).scalar()
    compression = bind.exec_driver_sql("SELECT compression FROM store_info").scalar()
    major_minor = tuple(int(p) for p in str(version or "0.0").split(".")[:2])
    if version is None or not compression or major_minor >= (2, 18):
        op.execute("ALTER TABLE readings ALTER COLUMN value DROP NOT NULL")
        return
    op.execute("SELECT remove_compression_policy('readings', if_exists => true)")
    op.execute("SELECT decompress_chunk(c, true) FROM show_chunks('readings') c")
    op.execute("ALTER TABLE readings SET (timescaledb.compress = false)")
    op.execute("ALTER TABLE readings ALTER COLUMN value DROP NOT NULL")
    op.execute(
        "ALTER TABLE readings SET (timescaledb.compress, "
        "timescaledb.compress_segmentby = 'sensor_key, metric_key', "
        "timescaledb.compress_orderby = 'time DESC')"
    )
    op.execute("SELECT add_compression_policy('readings', INTERVAL '7 days')")


def upgrade() -> None:
    # One column per statement: compressed hypertables accept ADD COLUMN one at a time.
    for name, type_ in COLUMNS:
        op.execute(f"ALTER TABLE readings ADD COLUMN {name} {type_}")
    _drop_not_null_on_value()
    op.execute("ALTER TABLE latest_readings ALTER COLUMN value DROP NOT NULL")
    _rebuild_reading_rollups("value")


def downgrade() -> None:
    _rebuild_reading_rollups("*")
    op.execute("DELETE FROM latest_readings WHERE value IS NULL")
    op.execute("DELETE FROM readings WHERE value IS NULL")
    op.execute("ALTER TABLE latest_readings ALTER COLUMN value SET NOT NULL")
    op.execute("ALTER TABLE readings ALTER COLUMN value SET NOT NULL")
    for name, _ in COLUMNS:
        op.execute(f"ALTER TABLE readings DROP COLUMN {name}")
