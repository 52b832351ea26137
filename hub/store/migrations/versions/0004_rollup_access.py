"""The API role reads the city-wide hourly counts and the rollups' pending hours.

Revision ID: 0004_rollup_access
Revises: 0003_layouts
Create Date: 2026-11-22

0001 gained ``event_counts_hour_citywide`` and ``rollup_invalidations`` after
0002 granted the API role its tables, so count queries that use them were
refused (403). The city-wide rollup has no site: as a plain table it gets the
same row-level policy as the other rollups, with the site left unknown (a grant
narrowed to sites then never matches it; the query layer does not use this
rollup for such callers anyway). Pending hours are time ranges only.
"""

from alembic import op

revision = "0004_rollup_access"
down_revision = "0003_layouts"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"

CITYWIDE_POLICY = f"""
ALTER TABLE event_counts_hour_citywide ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON event_counts_hour_citywide FOR SELECT TO {API_ROLE}
    USING (cityhub_sees('events', department_id, NULL, NULL, source_system, kind, NULL));
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.exec_driver_sql("SELECT to_regclass('rollup_invalidations')").scalar():
        op.execute(f"GRANT SELECT ON rollup_invalidations TO {API_ROLE}")  # plain layout only
    kind = bind.exec_driver_sql(
        "SELECT relkind FROM pg_class WHERE relname = 'event_counts_hour_citywide'"
    ).scalar()
    if kind == "r":  # plain PostgreSQL: a table that can carry a policy
        op.execute(CITYWIDE_POLICY)
    op.execute(f"GRANT SELECT ON event_counts_hour_citywide TO {API_ROLE}")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ON event_counts_hour_citywide FROM {API_ROLE}")
    if op.get_bind().exec_driver_sql("SELECT to_regclass('rollup_invalidations')").scalar():
        op.execute(f"REVOKE SELECT ON rollup_invalidations FROM {API_ROLE}")
    op.execute("DROP POLICY IF EXISTS api_read ON event_counts_hour_citywide")
