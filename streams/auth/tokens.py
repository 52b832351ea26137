"""Short-lived play tokens: one camera, a few protocols, minutes of life.

The hub (or, until its auth exists, anyone holding the configured secret)
issues a token per play request; the relay verifies it on WHEP, RTSP,
snapshot and clip requests. JWT (HS256) via PyJWT: audience
``cityhub-play``, ``exp``, ``jti`` and the claims ``cam`` (camera id),
``sub`` (who watches, for the audit) and ``proto`` (allowed protocols).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import jwt

AUDIENCE = "cityhub-play"
ALGORITHM = "HS256"
#: Every protocol the relay serves; a token lists the ones it allows.
PROTOCOLS = frozenset({"rtsp", "webrtc", "snapshot", "clip", "fmp4", "playback"})
MAX_TTL_S = 24 * 3600


class PlayTokenError(Exception):
    """A play token that does not grant the request; the message says why."""


@dataclass(frozen=True)
class PlayGrant:
    """What a verified token allows."""

    camera_id: str
    subject: str
    protocols: frozenset[str]
    expires_at: float
    token_id: str
    #: Footage this token may play back (unix s from, to); None: any time.
    window: tuple[float, float] | None = None

    def allows(self, protocol: str) -> bool:
        return protocol in self.protocols


def _secret(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    if len(raw) < 16:
        raise ValueError("play-token secret must be at least 16 bytes")
    return raw


def issue_play_token(
    secret: str | bytes,
    camera_id: str,
    subject: str,
    ttl_s: float = 300,
    protocols: Iterable[str] = ("webrtc", "rtsp", "snapshot"),
    window: tuple[float, float] | None = None,
) -> str:
    """A signed token letting ``subject`` play ``camera_id`` over ``protocols`` for ``ttl_s``."""
    protos = sorted(set(protocols))
    unknown = set(protos) - PROTOCOLS
    if unknown:
        raise ValueError(f"unknown protocols {sorted(unknown)}; known: {sorted(PROTOCOLS)}")
    if not protos:
        raise ValueError("a play token must allow at least one protocol")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be in (0, {MAX_TTL_S}]")
    if not camera_id or not subject:
        raise ValueError("camera_id and subject are required")
    now = int(time.time())
    claims = {
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + int(ttl_s),
        "jti": uuid.uuid4().hex,
        "sub": subject,
        "cam": camera_id,
        "proto": protos,
    }
    if window is not None:  # playback limited to footage recorded in [from, to]
        claims["win"] = [float(window[0]), float(window[1])]
    return jwt.encode(claims, _secret(secret), algorithm=ALGORITHM)


def verify_play_token(
    secret: str | bytes | Sequence[str | bytes],
    token: str,
    camera_id: str,
    protocol: str | None = None,
    leeway_s: float = 5,
) -> PlayGrant:
    """The grant of ``token`` for ``camera_id`` (and ``protocol`` if given), or PlayTokenError.

    ``secret`` may be a key ring (the signing key, then keys still accepted during a rotation).
    """
    if not token:
        raise PlayTokenError("missing play token")
    ring = [secret] if isinstance(secret, str | bytes) else list(secret)
    try:
        for i, key in enumerate(ring):
            try:
                claims = jwt.decode(
                    token,
                    _secret(key),
                    algorithms=[ALGORITHM],
                    audience=AUDIENCE,
                    leeway=leeway_s,
                    options={"require": ["exp", "aud", "jti", "sub", "cam"]},
                )
                break
            except jwt.InvalidSignatureError:
                if i == len(ring) - 1:
                    raise
    except jwt.ExpiredSignatureError as exc:
        raise PlayTokenError("play token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise PlayTokenError(f"invalid play token: {exc}") from exc
    if claims["cam"] != camera_id:
        raise PlayTokenError("play token was issued for another camera")
    protos = claims.get("proto") or []
    if not isinstance(protos, list) or not all(isinstance(p, str) for p in protos):
        raise PlayTokenError("invalid play token: bad 'proto' claim")
    grant = PlayGrant(
        camera_id=camera_id,
        subject=str(claims["sub"]),
        protocols=frozenset(protos),
        expires_at=float(claims["exp"]),
        token_id=str(claims["jti"]),
        window=_window(claims.get("win")),
    )
    if protocol is not None and not grant.allows(protocol):
        raise PlayTokenError(f"play token does not allow {protocol}")
    return grant


def _window(value: object) -> tuple[float, float] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2):
        raise PlayTokenError("invalid play token: bad 'win' claim")
    return float(value[0]), float(value[1])
