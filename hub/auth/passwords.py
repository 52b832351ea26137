"""Password hashing with pwdlib's recommended Argon2id settings."""

from __future__ import annotations

import secrets
from functools import lru_cache

from pwdlib import PasswordHash


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified when the user is unknown, so that response time does not reveal usernames."""
    return _hasher().hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """(ok, new_hash): new_hash is set when the stored hash should be upgraded."""
    if hashed is None:
        _hasher().verify(password, _dummy_hash())
        return False, None
    return _hasher().verify_and_update(password, hashed)
