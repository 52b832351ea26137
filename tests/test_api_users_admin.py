"""The API behind the Users & roles page and the audit page's root download (issue #19):
a department's admin manages its own users only, a taken name has its own error code, and a
day's signed root downloads as a file for auditors only."""

from __future__ import annotations

from datetime import UTC, datetime

from devkit.fixtures.hubapi import PASSWORD, HubApi

USERS = "/api/v1/users"


def test_an_admin_manages_the_departments_users(hub_api: HubApi) -> None:
    c, police = hub_api.client, hub_api.headers("police")
    bus = hub_api.headers("bus")
    password = "a long initial password"
    new = {"username": "duty.op", "password": password, "roles": ["operator"],
           "display_name": "Duty operator"}
    made = c.post(USERS, headers=police, json=new)
    assert made.status_code == 201, made.text
    user = made.json()
    assert user["roles"] == ["operator"] and not user["disabled"] and user["locked_until"] is None
    again = c.post(USERS, headers=police, json=new)
    assert again.status_code == 409 and again.json()["code"] == "username_taken"
    assert hub_api.login("duty.op", password)["access_token"]
    # another department's admin sees neither the user nor a way to change it
    assert "duty.op" not in [u["username"] for u in c.get(USERS, headers=bus).json()]
    other = c.patch(f"{USERS}/{user['id']}", headers=bus, json={"disabled": True})
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    # a user without the admin role may not list users
    op = {"Authorization": f"Bearer {hub_api.login('duty.op', password)['access_token']}"}
    refused = c.get(USERS, headers=op)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    # roles changed (relay is for keys only), disabled: the login is refused
    changed = c.patch(f"{USERS}/{user['id']}", headers=police,
                      json={"roles": ["analyst", "operator", "relay"], "disabled": True})
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["analyst", "operator"] and changed.json()["disabled"]
    login = c.post("/api/v1/auth/token", data={"username": "duty.op", "password": password})
    assert login.status_code == 401
    short = c.patch(f"{USERS}/{user['id']}", headers=police, json={"password": "short"})
    assert short.status_code == 422 and short.json()["code"] == "invalid"
    back = c.patch(f"{USERS}/{user['id']}", headers=police,
                   json={"disabled": False, "password": PASSWORD})
    assert back.status_code == 200 and not back.json()["disabled"]
    assert hub_api.login("duty.op")["access_token"]


def test_the_signed_daily_root_downloads_for_auditors_only(hub_api: HubApi) -> None:
    c, police = hub_api.client, hub_api.headers("police")
    today = datetime.now(UTC).date().isoformat()
    got = c.get(f"/api/v1/audit/roots/{today}/download", headers=police)
    assert got.status_code == 200, got.text
    assert got.headers["content-disposition"] == f'attachment; filename="audit-root-{today}.json"'
    root = got.json()
    assert root["date"] == today and len(root["signature"]) > 40 and root["head_seq"] > 0
    plain = c.get(f"/api/v1/audit/roots/{today}", headers=police).json()
    assert (root["date"], root["key_id"]) == (plain["date"], plain["key_id"])
    with hub_api.owner() as conn:
        row = conn.execute("SELECT actor, detail FROM audit_log WHERE action = %s"
                           " ORDER BY seq DESC LIMIT 1", ("audit.root.download",)).fetchone()
    assert row is not None and row[0] == "user:police-chief" and row[1]["day"] == today
    future = c.get("/api/v1/audit/roots/2999-01-01/download", headers=police)
    assert future.status_code == 422 and future.json()["code"] == "invalid"
    hub_api.add_user("police-op", "police", ["operator", "admin"])
    admin_only = {"Authorization": f"Bearer {hub_api.login('police-op')['access_token']}"}
    refused = c.get(f"/api/v1/audit/roots/{today}/download", headers=admin_only)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


def test_an_admin_cannot_disable_themselves_or_drop_their_own_admin_role(hub_api: HubApi) -> None:
    c, police = hub_api.client, hub_api.headers("police")
    me = c.get("/api/v1/auth/me", headers=police).json()
    for change in ({"disabled": True}, {"roles": ["operator", "auditor"]}):
        refused = c.patch(f"{USERS}/{me['id']}", headers=police, json=change)
        assert refused.status_code == 409 and refused.json()["code"] == "own_admin", refused.text
    kept = c.patch(f"{USERS}/{me['id']}", headers=police,
                   json={"roles": ["admin", "operator"], "display_name": "Chief"})
    assert kept.status_code == 200 and kept.json()["roles"] == ["admin", "operator"]
    assert hub_api.login("police-chief")["access_token"]  # still signs in, still an admin
