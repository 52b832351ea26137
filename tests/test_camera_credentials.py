"""Camera credentials change part by part: an edit that sends a new URL keeps the stored
login, one that sends a new password keeps the URL; the API still reads none of it back."""

from __future__ import annotations

import psycopg
import pytest

from devkit.fixtures.hubapi import HubApi
from hub.auth.credentials import cameras_for_relay, read_for_relay

URL = "rtsp://10.1.2.3:554/Streaming/Channels/101"
NEW_URL = "rtsp://10.1.2.4:554/Streaming/Channels/101"
PW, NEW_PW = "Cam-Pass-4711", "Cam-Pass-0815"


def _stored(hub: HubApi, camera: str) -> dict[str, str | None] | None:
    with hub.owner() as owner:
        return read_for_relay(owner, hub.runtime.credentials, camera)


@pytest.fixture
def camera(hub_api: HubApi) -> str:
    police = hub_api.headers("police")
    assert hub_api.client.post("/api/v1/sites", headers=police,
                               json={"id": "cs1", "name": "Creds"}).status_code == 201
    r = hub_api.client.post("/api/v1/cameras", headers=police, json={
        "id": "cam-c", "name": "Gate", "site": "cs1", "system": "safecity", "url": URL,
        "username": "admin", "password": PW})
    assert r.status_code == 201
    return "cam-c"


def _patch(hub: HubApi, camera: str, body: dict[str, str]) -> None:
    r = hub.client.patch(f"/api/v1/cameras/{camera}", headers=hub.headers("police"), json=body)
    assert r.status_code == 200, r.text
    assert r.json()["has_credentials"] is True
    assert not any(secret in r.text for secret in (PW, NEW_PW, "10.1.2."))


def test_a_new_url_keeps_the_login(hub_api: HubApi, camera: str) -> None:
    _patch(hub_api, camera, {"url": NEW_URL})
    assert _stored(hub_api, camera) == {"url": NEW_URL, "username": "admin", "password": PW}


def test_a_new_password_keeps_the_url_and_user(hub_api: HubApi, camera: str) -> None:
    _patch(hub_api, camera, {"password": NEW_PW})
    assert _stored(hub_api, camera) == {"url": URL, "username": "admin", "password": NEW_PW}
    _patch(hub_api, camera, {"username": "ops"})
    assert _stored(hub_api, camera) == {"url": URL, "username": "ops", "password": NEW_PW}
    with hub_api.owner() as owner:  # what the relay pulls is the same merge
        pulled = {c["id"]: c for c in cameras_for_relay(owner, hub_api.runtime.credentials)}
    assert (pulled[camera]["url"], pulled[camera]["username"], pulled[camera]["password"]) == (
        URL, "ops", NEW_PW)


def test_a_whole_new_set_replaces_earlier_parts(hub_api: HubApi, camera: str) -> None:
    _patch(hub_api, camera, {"password": NEW_PW})
    _patch(hub_api, camera, {"url": NEW_URL, "username": "u2", "password": "p2"})
    assert _stored(hub_api, camera) == {"url": NEW_URL, "username": "u2", "password": "p2"}


def test_parts_are_sealed_and_unreadable_by_the_api(hub_api: HubApi, camera: str) -> None:
    _patch(hub_api, camera, {"password": NEW_PW})
    with hub_api.owner() as owner:
        rows = owner.execute("SELECT part, sealed FROM camera_secret_parts").fetchall()
    assert [r[0] for r in rows] == ["password"]
    assert NEW_PW.encode() not in bytes(rows[0][1])
    with (hub_api.runtime.pool.connection() as conn,
          pytest.raises(psycopg.errors.InsufficientPrivilege)):
        conn.execute("SELECT * FROM camera_secret_parts")


def test_another_departments_camera_is_refused(hub_api: HubApi, camera: str) -> None:
    r = hub_api.client.patch(f"/api/v1/cameras/{camera}", headers=hub_api.headers("traffic"),
                             json={"password": "x"})
    assert r.status_code == 404
    assert _stored(hub_api, camera) == {"url": URL, "username": "admin", "password": PW}
