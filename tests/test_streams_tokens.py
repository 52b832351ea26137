"""Play tokens: issue, verify, and every way a token must be refused."""

from __future__ import annotations

import time

import jwt
import pytest

from streams.auth.tokens import PlayTokenError, issue_play_token, verify_play_token

SECRET = "test-secret-0123456789abcdef"


def test_round_trip_grants_camera_subject_and_protocols() -> None:
    tok = issue_play_token(SECRET, "cam1", "alice", ttl_s=60, protocols=["webrtc", "rtsp"])
    grant = verify_play_token(SECRET, tok, "cam1", protocol="webrtc")
    assert (grant.camera_id, grant.subject) == ("cam1", "alice")
    assert grant.protocols == {"webrtc", "rtsp"}
    assert grant.expires_at > time.time() + 50
    assert len(grant.token_id) == 32


@pytest.mark.parametrize(
    "token_for, camera, secret, protocol, reason",
    [
        ("cam1", "cam2", SECRET, None, "another camera"),
        ("cam1", "cam1", "another-secret-0123456789", None, "invalid"),
        ("cam1", "cam1", SECRET, "clip", "does not allow clip"),
    ],
)
def test_refusals(
    token_for: str, camera: str, secret: str, protocol: str | None, reason: str
) -> None:
    tok = issue_play_token(SECRET, token_for, "bob", protocols=["webrtc"])
    with pytest.raises(PlayTokenError, match=reason):
        verify_play_token(secret, tok, camera, protocol=protocol)


def test_expired_and_wrong_audience_and_garbage_are_refused() -> None:
    now = int(time.time())
    old = jwt.encode(
        {"aud": "cityhub-play", "exp": now - 60, "jti": "x", "sub": "a", "cam": "cam1"},
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(PlayTokenError, match="expired"):
        verify_play_token(SECRET, old, "cam1")
    other = jwt.encode(
        {"aud": "cityhub-api", "exp": now + 60, "jti": "x", "sub": "a", "cam": "cam1"},
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(PlayTokenError, match="invalid"):
        verify_play_token(SECRET, other, "cam1")
    none_alg = jwt.encode(
        {"aud": "cityhub-play", "exp": now + 60, "jti": "x", "sub": "a", "cam": "cam1"},
        "",  # no key: an unsigned token
        algorithm="none",
    )
    for bad in (none_alg, "garbage", "a.b.c", ""):
        with pytest.raises(PlayTokenError):
            verify_play_token(SECRET, bad, "cam1")


def test_issue_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown protocols"):
        issue_play_token(SECRET, "cam1", "a", protocols=["ftp"])
    with pytest.raises(ValueError, match="ttl_s"):
        issue_play_token(SECRET, "cam1", "a", ttl_s=0)
    with pytest.raises(ValueError, match="16 bytes"):
        issue_play_token("short", "cam1", "a")
