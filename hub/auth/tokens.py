"""Access tokens (short-lived JWT), refresh tokens and API keys.

Access tokens carry only the subject and its kind; roles and department are read
from the database on every request so that disabling a user or changing roles
takes effect at once. Refresh tokens and API keys are random secrets stored as
SHA-256 digests (they carry 256 bits of entropy, so a slow hash adds nothing).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
AUDIENCE = "cityhub-api"
API_KEY_PREFIX = "chk_"


class TokenError(Exception):
    """A token that is malformed, expired, or not meant for this use."""


def issue_access_token(
    secret: str, user_id: str, minutes: int, now: datetime | None = None, session: str | None = None
) -> str:
    """An access token for ``user_id``; ``session`` (the login's refresh-token family) lets a
    logout end it at once (``hub.auth.accounts.session_ended``)."""
    now = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": user_id,
        "typ": "access",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
        "jti": uuid.uuid4().hex,
    }
    if session is not None:
        claims["sid"] = session
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def access_claims(secret: str | Sequence[str], token: str) -> tuple[str, str | None]:
    """(user id, session) of a valid access token; session is None for tokens without one.

    ``secret`` may be a key ring: the signing key, then keys still accepted in a rotation.
    """
    ring = [secret] if isinstance(secret, str) else list(secret)
    claims: dict[str, object] = {}
    for i, key in enumerate(ring):
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["sub", "exp", "aud", "typ"]},
            )
            break
        except jwt.InvalidSignatureError as exc:
            if i == len(ring) - 1:
                raise TokenError(str(exc)) from exc
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from exc
    if claims.get("typ") != "access" or not isinstance(claims.get("sub"), str):
        raise TokenError("not an access token")
    session = claims.get("sid")
    return str(claims["sub"]), session if isinstance(session, str) else None


def digest(secret_value: str) -> str:
    return hashlib.sha256(secret_value.encode()).hexdigest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_key(key_id: str) -> str:
    """``chk_<id>.<secret>``: the id finds the row, the secret's digest must match."""
    return f"{API_KEY_PREFIX}{key_id}.{secrets.token_urlsafe(32)}"


def split_api_key(value: str) -> tuple[str, str]:
    if not value.startswith(API_KEY_PREFIX) or "." not in value:
        raise TokenError("not a cityhub API key")
    key_id, _, secret = value[len(API_KEY_PREFIX) :].partition(".")
    if not key_id or not secret or len(value) > 200:
        raise TokenError("not a cityhub API key")
    return key_id, secret
