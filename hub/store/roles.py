"""Login passwords of the store's roles, stored as SCRAM-SHA-256 verifiers.

``cityhub db upgrade`` creates the API role ``cityhub_api`` (migration 0002) without a
password: fine where PostgreSQL trusts loopback (the demo), refused where it asks SCRAM
(every production set-up). With ``access.api_role_password`` set, the upgrade gives the
role that password. The verifier is computed here (libpq's PQencryptPasswordConn), so the
plaintext never reaches the server's statement log.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

API_ROLE = "cityhub_api"


def set_role_password(dsn: str, role: str, password: str) -> None:
    """Give ``role`` the SCRAM-SHA-256 login ``password`` (connect as its owner/superuser)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(verifier.decode())
            )
        )
