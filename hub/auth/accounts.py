"""Users, API keys and refresh tokens in PostgreSQL."""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from hub.auth import passwords, tokens
from hub.auth.roles import Principal, Role


def _roles(values: list[str]) -> frozenset[Role]:
    return frozenset(Role(v) for v in values if v in Role.__members__)


def create_user(
    conn: psycopg.Connection[Any],
    username: str,
    password: str,
    department: str,
    roles: list[str],
    display_name: str = "",
) -> str:
    row = conn.execute(
        "INSERT INTO users (username, display_name, department_id, roles, password_hash)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (username, display_name, department, sorted(set(roles)), passwords.hash_password(password)),
    ).fetchone()
    assert row is not None
    return str(row[0])


def set_password(conn: psycopg.Connection[Any], user_id: str, password: str) -> None:
    conn.execute(
        "UPDATE users SET password_hash = %s WHERE id = %s",
        (passwords.hash_password(password), user_id),
    )
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
        (user_id,),
    )


@dataclass(frozen=True)
class LoginRow:
    """What a login checks, read before the (slow, deliberately) password hash is verified."""

    id: str
    username: str
    department: str
    roles: Any
    password_hash: str
    disabled: bool


def login_row(conn: psycopg.Connection[Any], username: str) -> LoginRow | None:
    row = conn.execute(
        "SELECT id, username, department_id, roles, password_hash, disabled_at IS NOT NULL"
        " FROM users WHERE username = %s",
        (username,),
    ).fetchone()
    return LoginRow(str(row[0]), *row[1:]) if row else None


def check_login(row: LoginRow | None, password: str) -> tuple[Principal | None, str, str | None]:
    """(principal, reason, rehash) with no database connection held: argon2 takes tens of
    milliseconds on purpose, and a burst of logins must not empty the pool. ``reason`` is for
    the audit log, never for the response; ``rehash`` is a new hash to store (parameters
    changed). Failed attempts are throttled by the caller (``hub.auth.throttle``)."""
    if row is None:
        passwords.verify_password(password, None)  # the same time as for a known user
        return None, "unknown user", None
    ok, new_hash = passwords.verify_password(password, row.password_hash)
    if not ok:
        return None, "wrong password", None
    if row.disabled:
        return None, "user disabled", None
    principal = Principal("user", row.id, row.username, row.department, _roles(row.roles))
    return principal, "ok", new_hash


def store_rehash(conn: psycopg.Connection[Any], user_id: str, new_hash: str | None) -> None:
    if new_hash is not None:
        conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (new_hash, user_id))


def user_principal(conn: psycopg.Connection[Any], user_id: str) -> Principal | None:
    try:
        uuid.UUID(user_id)
    except ValueError:
        return None
    row = conn.execute(
        "SELECT id, username, department_id, roles FROM users"
        " WHERE id = %s AND disabled_at IS NULL",
        (user_id,),
    ).fetchone()
    return Principal("user", str(row[0]), row[1], row[2], _roles(row[3])) if row else None


def create_api_key(
    conn: psycopg.Connection[Any],
    name: str,
    department: str,
    roles: list[str],
    created_by: str,
    expires_at: datetime | None = None,
) -> tuple[str, str]:
    """(key id, the key itself): the key is shown once and stored only as a digest."""
    key_id = secrets.token_hex(8)
    value = tokens.new_api_key(key_id)
    _, secret = tokens.split_api_key(value)
    conn.execute(
        "INSERT INTO api_keys (id, name, department_id, roles, secret_sha256, created_by,"
        " expires_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            key_id,
            name,
            department,
            sorted(set(roles)),
            tokens.digest(secret),
            created_by,
            expires_at,
        ),
    )
    return key_id, value


def api_key_principal(conn: psycopg.Connection[Any], value: str) -> Principal | None:
    try:
        key_id, secret = tokens.split_api_key(value)
    except tokens.TokenError:
        return None
    row = conn.execute(
        "SELECT id, name, department_id, roles, secret_sha256 FROM api_keys WHERE id = %s"
        " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
        (key_id,),
    ).fetchone()
    if row is None or not hmac.compare_digest(row[4], tokens.digest(secret)):
        return None
    conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = %s", (key_id,))
    return Principal("api_key", row[0], row[1], row[2], _roles(row[3]))


def issue_refresh(
    conn: psycopg.Connection[Any], user_id: str, days: int, family: uuid.UUID | None = None
) -> str:
    value = tokens.new_refresh_token()
    conn.execute(
        "INSERT INTO refresh_tokens (token_sha256, user_id, family, expires_at)"
        " VALUES (%s, %s, %s, now() + make_interval(days => %s))",
        (tokens.digest(value), user_id, family or uuid.uuid4(), days),
    )
    return value


def rotate_refresh(
    conn: psycopg.Connection[Any], value: str, days: int
) -> tuple[str, str, str] | None:
    """(user id, new refresh token, session) for a live token; a reused one revokes its whole
    family (the session: every access token issued in it ends too)."""
    row = conn.execute(
        "SELECT user_id, family, used_at, revoked_at, expires_at > now() FROM refresh_tokens"
        " WHERE token_sha256 = %s FOR UPDATE",
        (tokens.digest(value),),
    ).fetchone()
    if row is None:
        return None
    user_id, family, used_at, revoked_at, live = row
    if used_at is not None or revoked_at is not None:
        # a stolen copy is being replayed: end every session descended from this login
        conn.execute(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE family = %s AND revoked_at IS NULL",
            (family,),
        )
        return None
    if not live:
        return None
    conn.execute(
        "UPDATE refresh_tokens SET used_at = now() WHERE token_sha256 = %s", (tokens.digest(value),)
    )
    return str(user_id), issue_refresh(conn, str(user_id), days, family), str(family)


def session_ended(conn: psycopg.Connection[Any], session: str) -> bool:
    """Whether a login session (refresh-token family) was logged out or caught replayed."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE family = %s AND revoked_at IS NOT NULL)",
        (session,),
    ).fetchone()
    return bool(row and row[0])


def revoke_refresh(conn: psycopg.Connection[Any], value: str) -> str | None:
    """Log out: revoke the token's family; returns its user id when it existed."""
    row = conn.execute(
        "SELECT user_id, family FROM refresh_tokens WHERE token_sha256 = %s",
        (tokens.digest(value),),
    ).fetchone()
    if row is None:
        return None
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family = %s AND revoked_at IS NULL",
        (row[1],),
    )
    return str(row[0])


def api_key_by_id(conn: psycopg.Connection[Any], key_id: str) -> Principal | None:
    """The principal of a key that is still valid, by id (view sessions keep the id only)."""
    row = conn.execute(
        "SELECT id, name, department_id, roles FROM api_keys WHERE id = %s"
        " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
        (key_id,),
    ).fetchone()
    return Principal("api_key", row[0], row[1], row[2], _roles(row[3])) if row else None
