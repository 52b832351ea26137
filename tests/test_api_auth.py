"""Authentication and deny-by-default on a real PostgreSQL: logins, refresh rotation, API keys,
roles, the login throttle, and the app refusing undeclared routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import APIRouter, FastAPI

from devkit.fixtures.hubapi import PASSWORD, HubApi
from hub.auth.access import assert_access_declared, require


def test_login_me_refresh_rotation_and_logout(hub_api: HubApi) -> None:
    c = hub_api.client
    assert c.get("/api/v1/auth/me").status_code == 401
    pair = hub_api.login("police-chief")
    me = c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200 and me.json()["department"] == "police"
    assert set(me.json()["roles"]) == {"admin", "operator", "analyst", "auditor"}

    r = c.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    # the used refresh token is dead, and replaying it ends the whole session family
    assert (
        c.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
        == 401
    )
    assert (
        c.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code
        == 401
    )

    third = hub_api.login("police-chief")
    assert (
        c.post("/api/v1/auth/logout", json={"refresh_token": third["refresh_token"]}).status_code
        == 204
    )
    assert (
        c.post("/api/v1/auth/refresh", json={"refresh_token": third["refresh_token"]}).status_code
        == 401
    )


def test_wrong_password_unknown_user_and_throttle(hub_api: HubApi) -> None:
    """The same answer for an unknown user; repeated failures make this source wait (429),
    even with the right password, and the wait ends (tests/test_login_throttle.py: the rest)."""
    c = hub_api.client
    clock = FrozenClock()
    hub_api.runtime.clock = clock
    for user in ("police-chief", "nobody"):
        r = c.post("/api/v1/auth/token", data={"username": user, "password": "wrong password"})
        assert r.status_code == 401 and r.json()["detail"] == "invalid credentials"
    for _ in range(4):
        c.post("/api/v1/auth/token", data={"username": "traffic-chief", "password": "nope-nope"})
    r = c.post("/api/v1/auth/token", data={"username": "traffic-chief", "password": PASSWORD})
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    clock.now += timedelta(seconds=1)
    hub_api.login("traffic-chief")
    with hub_api.owner() as conn:
        actions = [a for (a,) in conn.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert actions == ["auth.login.failed"] * 7 + ["auth.login"]  # the throttled one included


class FrozenClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_roles_are_enforced_and_disabling_a_user_is_immediate(hub_api: HubApi) -> None:
    c = hub_api.client
    hub_api.add_user("ana", "police", ["analyst"])
    ana = {"Authorization": f"Bearer {hub_api.login('ana')['access_token']}"}
    assert c.get("/api/v1/audit", headers=ana).status_code == 403
    assert c.get("/api/v1/users", headers=ana).status_code == 403
    assert c.post("/api/v1/cameras/x/play", json={}, headers=ana).status_code == 403

    users = c.get("/api/v1/users", headers=hub_api.headers("police")).json()
    ana_id = next(u["id"] for u in users if u["username"] == "ana")
    r = c.patch(
        f"/api/v1/users/{ana_id}", json={"disabled": True}, headers=hub_api.headers("police")
    )
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert c.get("/api/v1/auth/me", headers=ana).status_code == 401
    # another department's admin cannot touch police users
    r = c.patch(f"/api/v1/users/{ana_id}", json={"disabled": False}, headers=hub_api.headers("bus"))
    assert r.status_code == 404


def test_api_keys_work_until_revoked(hub_api: HubApi) -> None:
    c = hub_api.client
    r = c.post(
        "/api/v1/api-keys",
        json={"name": "relay-1", "roles": ["relay"]},
        headers=hub_api.headers("police"),
    )
    assert r.status_code == 201
    key, key_id = r.json()["key"], r.json()["id"]
    me = c.get("/api/v1/auth/me", headers={"X-API-Key": key})
    assert (
        me.status_code == 200 and me.json()["kind"] == "api_key" and me.json()["roles"] == ["relay"]
    )
    listed = c.get("/api/v1/api-keys", headers=hub_api.headers("police")).json()
    assert all("key" not in k for k in listed)
    assert c.get("/api/v1/auth/me", headers={"X-API-Key": key[:-2] + "xx"}).status_code == 401
    assert (
        c.delete(f"/api/v1/api-keys/{key_id}", headers=hub_api.headers("police")).status_code == 204
    )
    assert c.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 401


def test_an_app_with_an_undeclared_route_does_not_start() -> None:
    app = FastAPI()
    router = APIRouter()

    @router.get("/declared")
    def declared(caller: object = require()) -> None: ...

    @router.get("/forgotten")
    def forgotten() -> None: ...

    app.include_router(router, prefix="/api")
    with pytest.raises(RuntimeError, match="/api/forgotten"):
        assert_access_declared(app)


def test_health_and_public_key_are_public(hub_api: HubApi) -> None:
    c = hub_api.client
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").json() == {"status": "ready"}
    key = c.get("/api/v1/evidence/public-key").json()
    assert key["algorithm"] == "Ed25519" and "BEGIN PUBLIC KEY" in key["public_key_pem"]
