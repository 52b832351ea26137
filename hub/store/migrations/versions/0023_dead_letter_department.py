"""Dead letters belong to a department, whose admins may read them through the API.

Revision ID: 0023_dead_letter_department
Revises: 0022_camera_secret_parts
Create Date: 2026-12-07

A payload the hub could not store was kept for inspection but reachable only with SQL, and
the dead-letter alerts told the people on call to "see the table". Each letter now names
the department it came from: the one in its MQTT topic (``city/{department}/...``), or the
department of the record the store refused; letters from nowhere known stay NULL and are
read with SQL only. The API role reads a department's own letters under row-level
security, so that one department's raw payloads never reach another's admins.
"""

from alembic import op

revision = "0023_dead_letter_department"
down_revision = "0022_camera_secret_parts"
branch_labels = None
depends_on = None

API_ROLE = "cityhub_api"


def upgrade() -> None:
    op.execute("ALTER TABLE dead_letters ADD COLUMN department_id text")
    op.execute("UPDATE dead_letters SET department_id = split_part(topic, '/', 2)"
               " WHERE topic LIKE 'city/%/%'")
    op.execute("CREATE INDEX dead_letters_department ON dead_letters"
               " (department_id, received_at DESC)")
    op.execute("ALTER TABLE dead_letters ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY api_read ON dead_letters FOR SELECT TO {API_ROLE}"
               " USING (department_id = cityhub_department())")
    op.execute(f"GRANT SELECT ON dead_letters TO {API_ROLE}")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON dead_letters FROM {API_ROLE}")
    op.execute("DROP POLICY api_read ON dead_letters")
    op.execute("ALTER TABLE dead_letters DISABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE dead_letters DROP COLUMN department_id")
