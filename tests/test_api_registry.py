"""Registry CRUD through the API, and camera credentials that never come back out:
no response and no log line carries them (a test scans both)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import psycopg
import pytest

from devkit.fixtures.hubapi import HubApi
from hub.auth.credentials import read_for_relay

SECRET_PW = "S3cr3t-Cam-Pass-4711"
SECRET_URL = f"rtsp://admin:{SECRET_PW}@10.1.2.3:554/Streaming/Channels/101"
NEW_PW = "N3w-Cam-Pass-0815"


def test_registry_crud_and_write_only_credentials(
    hub_api: HubApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # its request lines are scanned too
    c, police = hub_api.client, hub_api.headers("police")
    seen: list[str] = []

    def call(method: str, url: str, headers: dict[str, str], json: Any = None) -> httpx.Response:
        r = c.request(method, url, headers=headers, json=json)
        seen.append(f"{r.status_code} {dict(r.headers)} {r.text}")
        return r

    assert (
        call(
            "POST",
            "/api/v1/sites",
            json={"id": "x5", "name": "Xinhua 5th", "location": {"lat": 30.6, "lon": 104.0}},
            headers=police,
        ).status_code
        == 201
    )
    assert (
        call(
            "POST", "/api/v1/sites", json={"id": "x5", "name": "again"}, headers=police
        ).status_code
        == 409
    )
    r = call(
        "POST",
        "/api/v1/cameras",
        headers=police,
        json={
            "id": "cam-a",
            "name": "NE corner",
            "site": "x5",
            "system": "safecity",
            "url": SECRET_URL,
            "username": "admin",
            "password": SECRET_PW,
        },
    )
    assert r.status_code == 201 and r.json()["has_credentials"] is True
    # other departments cannot register cameras at police sites nor see this one
    bus = hub_api.headers("bus")
    assert (
        call(
            "POST",
            "/api/v1/cameras",
            headers=bus,
            json={"id": "cam-b", "name": "n", "site": "x5", "system": "bus", "url": SECRET_URL},
        ).status_code
        == 422
    )
    assert call("GET", "/api/v1/cameras/cam-a", headers=bus).status_code == 404
    assert (
        call("PATCH", "/api/v1/cameras/cam-a", headers=bus, json={"name": "mine"}).status_code
        == 404
    )
    # a malformed URL is refused without being echoed
    bad = call(
        "PATCH",
        "/api/v1/cameras/cam-a",
        headers=police,
        json={"url": f"http://admin:{SECRET_PW}@host/"},
    )
    assert bad.status_code == 422
    too_long = call(
        "PATCH",
        "/api/v1/cameras/cam-a",
        headers=police,
        json={"url": "rtsp://u:" + SECRET_PW * 200 + "@h/"},
    )
    assert too_long.status_code == 422
    assert (
        call(
            "PATCH",
            "/api/v1/cameras/cam-a",
            headers=police,
            json={
                "url": SECRET_URL.replace(SECRET_PW, NEW_PW),
                "password": NEW_PW,
                "name": "NE corner (new)",
            },
        ).status_code
        == 200
    )
    for path in (
        "/api/v1/cameras",
        "/api/v1/cameras/cam-a",
        "/api/v1/sites",
        "/api/v1/audit",
        "/openapi.json",
    ):
        assert call("GET", path, headers=police).status_code == 200
    r = call(
        "POST", "/api/v1/sensors", headers=police, json={"id": "aq-1", "site": "x5", "kind": "pm25"}
    )
    assert r.status_code == 201
    assert (
        call("PATCH", "/api/v1/sensors/aq-1", headers=police, json={"kind": "noise"}).json()["kind"]
        == "noise"
    )
    assert (
        call("DELETE", "/api/v1/sites/x5", headers=police).status_code == 409
    )  # still has cameras
    assert call("DELETE", "/api/v1/sensors/aq-1", headers=police).status_code == 204

    # the relay (owner side) can open the sealed credentials; the API role cannot even read them
    with hub_api.owner() as owner:
        creds = read_for_relay(owner, hub_api.runtime.credentials, "cam-a")
        assert creds is not None and creds["password"] == NEW_PW
        sealed = owner.execute("SELECT sealed FROM camera_secrets").fetchone()
        assert sealed is not None and NEW_PW.encode() not in bytes(sealed[0])
    with (
        hub_api.runtime.pool.connection() as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("SELECT * FROM camera_secrets")

    assert call("DELETE", "/api/v1/cameras/cam-a", headers=police).status_code == 204
    assert call("DELETE", "/api/v1/sites/x5", headers=police).status_code == 204

    everything = (
        "\n".join(seen)
        + "\n"
        + "\n".join(f"{rec.getMessage()} {rec.exc_text or ''}" for rec in caplog.records)
    )
    for secret in (SECRET_PW, NEW_PW):
        assert secret not in everything
    assert len(seen) > 15 and caplog.records  # the scan looked at something
