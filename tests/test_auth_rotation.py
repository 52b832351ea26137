"""Rotating secrets without downtime: the signing key's ring (hub.verify_secret_keys),
secrets read from files (CITYHUB_<PATH>_FILE) and camera logins in a credentials_file."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from core.config import ConfigError
from devkit.fixtures.hubapi import SECRET, HubApi
from devkit.fixtures.streams import RelayProcess
from hub.api.app import create_app
from hub.api.runtime import Runtime
from hub.auth import keys, tokens
from hub.auth.credentials import CredentialBox
from hub.config import load_config
from streams.auth.service import bearer_matches, derive_service_token
from streams.auth.tokens import PlayTokenError, issue_play_token, verify_play_token

OLD = "old-signing-key-0123456789-abcdefghijkl"
NEW = "new-signing-key-0123456789-abcdefghijkl"
OTHER = "unrelated-key-0123456789-abcdefghijklmn"


def test_access_tokens_verify_against_the_ring_only() -> None:
    token = tokens.issue_access_token(keys.access_token_key(OLD), "u1", 5, session="s")
    ring = [keys.access_token_key(k) for k in (NEW, OLD)]
    assert tokens.access_claims(ring, token) == ("u1", "s")
    with pytest.raises(tokens.TokenError):
        tokens.access_claims(keys.access_token_key(NEW), token)
    with pytest.raises(tokens.TokenError):
        tokens.access_claims([keys.access_token_key(k) for k in (NEW, OTHER)], token)
    expired = tokens.issue_access_token(keys.access_token_key(OLD), "u1", -5)
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.access_claims(ring, expired)


def test_play_tokens_verify_against_the_ring_only() -> None:
    token = issue_play_token(OLD, "cam1", "viewer", protocols=["rtsp"])
    assert verify_play_token([NEW, OLD], token, "cam1", protocol="rtsp").subject == "viewer"
    with pytest.raises(PlayTokenError, match="invalid play token"):
        verify_play_token(NEW, token, "cam1")
    with pytest.raises(PlayTokenError, match="another camera"):
        verify_play_token([NEW, OLD], token, "cam2")
    assert bearer_matches(f"Bearer {derive_service_token(OLD)}",
                          [derive_service_token(NEW), derive_service_token(OLD)])
    assert not bearer_matches(f"Bearer {derive_service_token(OTHER)}",
                              [derive_service_token(NEW), derive_service_token(OLD)])


def test_sealed_camera_credentials_still_open_after_the_key_changes() -> None:
    sealed = CredentialBox(keys.credentials_fernet_key(OLD)).seal("rtsp://c/1", "admin", "pw")
    ring = keys.credentials_fernet_keys(None, (NEW, OLD))
    rotated = CredentialBox(*ring)
    assert rotated.unseal(sealed)["password"] == "pw"
    fresh = rotated.seal("rtsp://c/1", "admin", "pw2")
    assert CredentialBox(ring[0]).unseal(fresh)["password"] == "pw2"  # sealed with the new key
    with pytest.raises(ValueError, match="do not open"):
        CredentialBox(keys.credentials_fernet_key(NEW)).unseal(sealed)


def test_verify_keys_from_the_environment_and_files(tmp_path: Path, monkeypatch) -> None:
    secret_file = tmp_path / "secret-key"
    secret_file.write_text(NEW + "\n")
    monkeypatch.setenv("CITYHUB_HUB__SECRET_KEY_FILE", str(secret_file))
    monkeypatch.setenv("CITYHUB_HUB__VERIFY_SECRET_KEYS", f'["{OLD}"]')
    cfg = load_config(None)
    assert cfg.hub.verification_secrets() == (NEW, OLD)
    monkeypatch.setenv("CITYHUB_HUB__VERIFY_SECRET_KEYS", '["too-short"]')
    with pytest.raises(ConfigError, match="verify key is shorter"):
        load_config(None)
    monkeypatch.delenv("CITYHUB_HUB__VERIFY_SECRET_KEYS")
    monkeypatch.setenv("CITYHUB_DATABASE__URL_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="CITYHUB_DATABASE__URL_FILE: cannot read secret file"):
        load_config(None)


def test_camera_credentials_file_replaces_username_and_password(tmp_path: Path) -> None:
    cam = {"id": "c1", "name": "C1", "site": "s1", "department": "d1", "system": "safecity",
           "url": "rtsp://10.0.0.1/1", "credentials_file": str(tmp_path / "c1")}
    assert load_config(None, cameras=[cam]).cameras[0].credentials_file == tmp_path / "c1"
    with pytest.raises(ConfigError, match="credentials_file replaces username/password"):
        load_config(None, cameras=[{**cam, "password": "x"}])


def _app(hub: HubApi, tmp_path: Path, **hub_section: object) -> TestClient:
    cfg = load_config(None, state_dir=str(tmp_path), database={"url": hub.owner_dsn},
                      hub=hub_section)
    return TestClient(create_app(cfg, Runtime.from_config(cfg)))


def test_hub_accepts_old_tokens_while_the_old_key_is_listed(hub_api: HubApi, tmp_path: Path):
    """A login made on a hub with the old key works on one already rolled to the new key."""
    access = hub_api.login("police-chief")["access_token"]
    me = {"Authorization": f"Bearer {access}"}
    with _app(hub_api, tmp_path / "a", secret_key=NEW, verify_secret_keys=[SECRET]) as rolled:
        assert rolled.get("/api/v1/auth/me", headers=me).status_code == 200
        fresh = rolled.post("/api/v1/auth/token",
                            data={"username": "police-chief", "password": "correct horse "
                                  "battery staple"}).json()["access_token"]
    assert hub_api.client.get("/api/v1/auth/me", headers=me).status_code == 200
    # the old hub does not know the new key yet: that is why step 1 adds it everywhere first
    fresh_h = {"Authorization": f"Bearer {fresh}"}
    assert hub_api.client.get("/api/v1/auth/me", headers=fresh_h).status_code == 401
    with _app(hub_api, tmp_path / "b", secret_key=NEW) as dropped:
        assert dropped.get("/api/v1/auth/me", headers=me).status_code == 401
        assert dropped.get("/api/v1/auth/me", headers=fresh_h).status_code == 200


def _relay(tmp: Path, cameras: dict, verify: list[str], **streams: object) -> RelayProcess:
    relay = RelayProcess(tmp, cameras, **streams)
    config = yaml.safe_load(relay.config_path.read_text())
    config["hub"] = {"verify_secret_keys": verify}
    relay.config_path.write_text(yaml.safe_dump(config))
    return relay.start()


def test_relay_rotation_play_tokens_and_camera_login_file(camera_factory, tmp_path: Path):
    """The relay accepts play and service tokens of a listed old key, and takes a camera's
    new password from its credentials_file at the next connect, without a restart."""
    cam = camera_factory(["cam1"], mode="loop", username="admin", password="Pw-New-77",
                         auth="digest")
    login = tmp_path / "cam1.login"
    login.write_text("admin:Pw-Old-66\n")  # the camera's password has already changed
    relay = _relay(tmp_path / "relay", {"cam1": {"url": cam.url("cam1"),
                                                  "credentials_file": str(login)}},
                   [OLD], connect_timeout_s=4, backoff_initial_s=0.5, backoff_max_s=1)
    try:
        old_play = issue_play_token(OLD, "cam1", "viewer", protocols=["snapshot"])
        other = issue_play_token(OTHER, "cam1", "viewer", protocols=["snapshot"])
        snap = f"{relay.http}/snapshot/cam1.jpg"
        assert httpx.get(snap, headers=_bearer(other), timeout=30).status_code in (401, 403)
        assert httpx.get(snap, headers=_bearer(old_play), timeout=30).status_code == 503
        old_service = {"Authorization": f"Bearer {derive_service_token(OLD)}"}
        health = httpx.get(f"{relay.http}/health/cam1", headers=old_service, timeout=10).json()
        assert "401" in (health["error"] or "")
        login.write_text("admin:Pw-New-77\n")  # rotate: rewrite the file, nothing restarts
        deadline = time.monotonic() + 30
        status = 0
        while status != 200 and time.monotonic() < deadline:
            status = httpx.get(snap, headers=_bearer(old_play), timeout=30).status_code
        assert status == 200
        assert "Pw-New-77" not in relay.log.read_text() and "Pw-Old-66" not in relay.log.read_text()
    finally:
        relay.stop()


def _bearer(token: str) -> dict[str, str]:
    """A play token as WHEP players send it (a query would reach httpx's request log)."""
    return {"Authorization": f"Bearer {token}"}
