"""The relay's service credential: who may read its health and metrics.

``/health``, ``/health/{camera}`` and ``/metrics`` name every camera the relay pulls,
with states and viewer counts, so they answer only a caller holding the service token
(Prometheus, the hub's health merge), as ``Authorization: Bearer <token>``. The token is
``streams.service_token`` when configured, else derived from the play secret (HMAC with
its own label), so a hub that can sign play tokens can also read health, and knowing a
play token tells nothing about the service token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from fastapi import HTTPException, Request

LABEL = b"cityhub relay service token v1"


def derive_service_token(play_secret: str) -> str:
    """The service token both the relay and the hub derive from the shared play secret."""
    return hmac.new(play_secret.encode(), LABEL, hashlib.sha256).hexdigest()


def bearer_matches(authorization: str | None, expected: str | Sequence[str]) -> bool:
    """Whether an ``Authorization`` header carries ``expected`` or one of them (constant-time)."""
    scheme, _, given = (authorization or "").partition(" ")
    ring = [expected] if isinstance(expected, str) else list(expected)
    matches = [hmac.compare_digest(given.strip(), e) for e in ring]  # no early exit
    return scheme.lower() == "bearer" and any(matches)


def service_only(expected: str | Sequence[str]) -> Callable[[Request], None]:
    """A FastAPI dependency admitting the service credential only (401 otherwise)."""

    def check(request: Request) -> None:
        if not bearer_matches(request.headers.get("authorization"), expected):
            raise HTTPException(401, "service token required",
                                headers={"WWW-Authenticate": "Bearer"})

    return check
