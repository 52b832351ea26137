"""Pure logic of hub.auth: tokens, API keys, passwords, grant visibility (oracle vs SQL text)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.auth import passwords, tokens
from hub.auth.grants import Grant, Visibility

SECRET = "test-secret-0123456789abcdef-0123456789"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_access_token_round_trip_and_expiry() -> None:
    tok = tokens.issue_access_token(SECRET, "u1", minutes=5)
    assert tokens.access_claims(SECRET, tok) == ("u1", None)
    old = tokens.issue_access_token(
        SECRET, "u1", minutes=5, now=datetime.now(UTC) - timedelta(hours=1)
    )
    with pytest.raises(tokens.TokenError):
        tokens.access_claims(SECRET, old)
    with pytest.raises(tokens.TokenError):
        tokens.access_claims("another-secret-0123456789-0123456789", tok)


def test_play_token_is_not_an_access_token() -> None:
    from streams.auth.tokens import issue_play_token

    play = issue_play_token(SECRET, "cam1", "user:x", ttl_s=60)
    with pytest.raises(tokens.TokenError):
        tokens.access_claims(SECRET, play)


def test_api_key_format() -> None:
    key = tokens.new_api_key("abc123")
    key_id, secret = tokens.split_api_key(key)
    assert key_id == "abc123" and len(secret) >= 40
    for bad in ("", "abc", "chk_", "chk_x", "chk_.y", "Bearer chk_a.b"):
        with pytest.raises(tokens.TokenError):
            tokens.split_api_key(bad)


def test_password_hash_verifies_only_the_password() -> None:
    h = passwords.hash_password("correct horse")
    assert h.startswith("$argon2id$")
    assert passwords.verify_password("correct horse", h)[0]
    assert not passwords.verify_password("wrong", h)[0]
    assert not passwords.verify_password("anything", None)[0]


def _g(**kw: Any) -> Grant:
    base = Grant(
        id="g",
        grantor="police",
        grantee="traffic",
        resources=frozenset({"video", "events", "readings"}),
        expires_at=NOW + timedelta(hours=1),
    )
    return replace(base, **kw)


def test_visibility_own_department_and_scoped_grant() -> None:
    g = _g(sites=frozenset({"s1"}), kinds=frozenset({"alarm"}), resources=frozenset({"events"}))
    v = Visibility.compute("traffic", [g], NOW)
    assert v.sees_event("traffic", "any", None, "traffic", "x")
    assert v.sees_event("police", "s1", None, "safecity", "alarm")
    assert not v.sees_event("police", "s1", None, "safecity", "plate")
    assert not v.sees_event("police", "s2", None, "safecity", "alarm")
    assert not v.sees_camera("police", "s1", "c1", "safecity")  # events only, no video
    assert not v.sees_event("citymgmt", "s1", None, "safecity", "alarm")


def test_expired_revoked_and_future_grants_give_nothing() -> None:
    for g in (
        _g(expires_at=NOW),
        _g(revoked_at=NOW - timedelta(seconds=1)),
        _g(starts_at=NOW + timedelta(minutes=1)),
    ):
        v = Visibility.compute("traffic", [g], NOW)
        assert v.grants == ()
        assert not v.sees_camera("police", "s1", "c1", "safecity")


def test_grant_for_another_grantee_is_ignored() -> None:
    v = Visibility.compute("bus", [_g()], NOW)
    assert not v.sees_reading("police", "s1", "aq1")


def test_sql_fragment_quotes_values() -> None:
    g = _g(cameras=frozenset({"c'1"}))
    text = (
        Visibility.compute("traffic", [g], NOW)
        .sql(
            "events",
            {
                "department": "department_id",
                "site": "site_id",
                "camera": "camera_id",
                "system": "source_system",
                "kind": "kind",
            },
            table="e",
        )
        .as_string(None)
    )
    assert "'{c''1}'::text[]" in text and '"e"."department_id" = \'traffic\'' in text
