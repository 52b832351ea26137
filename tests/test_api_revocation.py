"""Access ends the moment it is taken away: a revocation is durable before it is answered.

Against a real server (uvicorn on loopback, PostgreSQL): revoke, and at once, on another
connection, use what was revoked. Were the transaction committed after the answer (as the
request's own clean-up), the use would sometimes still succeed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient

from devkit.fixtures.hubapi import PASSWORD, HubApi, seed_city, serving
from hub.api.app import create_app
from hub.api.runtime import Runtime

ROUNDS = 100


def test_a_revoked_grant_never_works_after_its_answer(hub_api: HubApi) -> None:
    world = seed_city(hub_api, ["police", "traffic"])
    camera = next(c for c, (d, _, _) in world.cameras.items() if d == "traffic")
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    grant = {"grantee": "police", "resources": ["video"], "purpose": "revocation test",
             "expires_at": expires, "cameras": [camera]}
    owner, police = hub_api.headers("traffic"), hub_api.headers("police")
    with serving(hub_api) as base, httpx.Client(base_url=base) as admin, \
            httpx.Client(base_url=base) as viewer:
        for _ in range(ROUNDS):
            made = admin.post("/api/v1/grants", json=grant, headers=owner)
            assert made.status_code == 201, made.text
            assert viewer.get(f"/api/v1/cameras/{camera}", headers=police).status_code == 200
            revoked = admin.post(f"/api/v1/grants/{made.json()['id']}/revoke", headers=owner)
            assert revoked.status_code == 200
            assert viewer.get(f"/api/v1/cameras/{camera}", headers=police).status_code == 404


def test_a_deleted_key_and_a_disabled_user_never_work_after_the_answer(hub_api: HubApi) -> None:
    chief = hub_api.headers("police")
    with serving(hub_api) as base, httpx.Client(base_url=base) as admin, \
            httpx.Client(base_url=base) as user:
        for i in range(ROUNDS):
            made = admin.post("/api/v1/api-keys", json={"name": f"k{i}", "roles": ["operator"]},
                              headers=chief)
            assert made.status_code == 201
            key = {"X-API-Key": made.json()["key"]}
            assert user.get("/api/v1/auth/me", headers=key).status_code == 200
            assert admin.delete(f"/api/v1/api-keys/{made.json()['id']}",
                                headers=chief).status_code == 204
            assert user.get("/api/v1/auth/me", headers=key).status_code == 401
        for i in range(ROUNDS // 4):
            name = f"op{i}"
            made = admin.post("/api/v1/users", headers=chief, json={
                "username": name, "display_name": name, "password": "a-long-pass-phrase-1",
                "roles": ["operator"]})
            assert made.status_code == 201, made.text
            token = user.post("/api/v1/auth/token", data={
                "username": name, "password": "a-long-pass-phrase-1"}).json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            assert user.get("/api/v1/auth/me", headers=bearer).status_code == 200
            assert admin.patch(f"/api/v1/users/{made.json()['id']}", headers=chief,
                               json={"disabled": True}).status_code == 200
            assert user.get("/api/v1/auth/me", headers=bearer).status_code == 401


def test_a_logged_out_session_is_refused_by_every_hub_process(hub_api: HubApi) -> None:
    """Two hub processes on one database: logging out through one ends the session's access
    token in both at once, not when the token expires; another session of the user lives on."""
    runtime = Runtime.from_config(hub_api.config)
    other = TestClient(create_app(hub_api.config, runtime))
    login = {"username": "police-chief", "password": PASSWORD}
    with other:
        first = hub_api.client.post("/api/v1/auth/token", data=login).json()
        second = other.post("/api/v1/auth/token", data=login).json()
        bearer = {"Authorization": f"Bearer {first['access_token']}"}
        kept = {"Authorization": f"Bearer {second['access_token']}"}
        for client in (hub_api.client, other):
            assert client.get("/api/v1/auth/me", headers=bearer).status_code == 200
        out = other.post("/api/v1/auth/logout", json={"refresh_token": first["refresh_token"]})
        assert out.status_code == 204
        for client in (hub_api.client, other):
            assert client.get("/api/v1/auth/me", headers=bearer).status_code == 401
            assert client.get("/api/v1/auth/me", headers=kept).status_code == 200
        # A refreshed token of the ended session is no way back in.
        again = hub_api.client.post("/api/v1/auth/refresh",
                                    json={"refresh_token": first["refresh_token"]})
        assert again.status_code == 401
    runtime.close()
