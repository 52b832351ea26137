"""Readings keep every SenML value type: sums beside values, booleans, strings, data, ut.

Revision ID: 0008_reading_values
Revises: 0006_media
Create Date: 2026-12-05

RFC 8428 4.2-4.3: a record carries a numeric value (``v``), a sum (``s``), a boolean
(``vb``), a string (``vs``) or binary data (``vd``), and may say when the next value is
due (``ut``). Each has its own nullable column, so nothing is coerced into a number;
``value`` becomes nullable (a record with only a string or a sum has no number). On
TimescaleDB, adding nullable columns and dropping NOT NULL are allowed on compressed
hypertables; continuous aggregates over ``value`` ignore NULLs.
"""

from alembic import op

revision = "0008_reading_values"
down_revision = "0006_media"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE readings ADD COLUMN sum double precision, "
        "ADD COLUMN value_bool boolean, ADD COLUMN value_text text, "
        "ADD COLUMN value_data bytea, ADD COLUMN update_s double precision"
    )
    op.execute("ALTER TABLE readings ALTER COLUMN value DROP NOT NULL")
    op.execute("ALTER TABLE latest_readings ALTER COLUMN value DROP NOT NULL")


def downgrade() -> None:
    op.execute("DELETE FROM latest_readings WHERE value IS NULL")
    op.execute("DELETE FROM readings WHERE value IS NULL")
    op.execute("ALTER TABLE latest_readings ALTER COLUMN value SET NOT NULL")
    op.execute("ALTER TABLE readings ALTER COLUMN value SET NOT NULL")
    op.execute(
        "ALTER TABLE readings DROP COLUMN sum, DROP COLUMN value_bool, DROP COLUMN value_text, "
        "DROP COLUMN value_data, DROP COLUMN update_s"
    )
