"""The admin pages of the control room (#/sharing, #/audit): first the API they rest on (audit
filters and newest-first paging, incident-bound grants, ended view sessions), then the pages
in real Chromium against the demo city (devkit/fixtures/browser.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from devkit.fixtures.hubapi import HubApi

CAMERA = "tr-renmin-1"  # traffic's camera, shared with citymgmt through the Sharing form


def _grant(hub: HubApi, grantor: str, grantee: str, purpose: str) -> dict:
    r = hub.client.post("/api/v1/grants", headers=hub.headers(grantor), json={
        "grantee": grantee, "resources": ["events"], "purpose": purpose,
        "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_audit_filters_by_prefix_actor_and_time_newest_first(hub_api: HubApi) -> None:
    c, police = hub_api.client, hub_api.headers("police")
    first = _grant(hub_api, "police", "traffic", "first share")
    second = _grant(hub_api, "police", "bus", "second share")
    assert c.post(f"/api/v1/grants/{first['id']}/revoke", headers=police).status_code == 200
    page = c.get("/api/v1/audit", headers=police,
                 params={"action_prefix": "grant.", "before_seq": 2**62, "limit": 2}).json()
    assert [e["action"] for e in page["items"]] == ["grant.revoke", "grant.create"]
    assert page["items"][1]["target_id"] == second["id"]
    assert page["next_before_seq"] == page["items"][1]["seq"] and page["next_after_seq"] is None
    rest = c.get("/api/v1/audit", headers=police, params={
        "action_prefix": "grant.", "before_seq": page["next_before_seq"]}).json()
    assert [e["target_id"] for e in rest["items"]] == [first["id"]]
    assert rest["next_before_seq"] is None
    mine = c.get("/api/v1/audit", headers=police, params={"actor": "police-chief"}).json()
    assert mine["items"] and all("police-chief" in e["actor"] for e in mine["items"])
    assert not c.get("/api/v1/audit", headers=police, params={"actor": "nobody-"}).json()["items"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert not c.get("/api/v1/audit", headers=police, params={"since": future}).json()["items"]
    assert c.get("/api/v1/audit", headers=police, params={"until": future}).json()["items"]
    bad = c.get("/api/v1/audit", headers=police, params={"action_prefix": "grant.%"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid"


def test_incident_bound_grants_are_marked_and_not_revoked_by_hand(hub_api: HubApi) -> None:
    c, traffic = hub_api.client, hub_api.headers("traffic")
    inc = c.post("/api/v1/incidents", headers=traffic,
                 json={"title": "crash at Renmin", "kind": "crash", "priority": 2})
    assert inc.status_code == 201, inc.text
    sent = c.post(f"/api/v1/incidents/{inc.json()['id']}/actions/dispatch", headers=traffic,
                  json={"version": inc.json()["version"], "assignees": [{"department": "police"}]})
    assert sent.status_code == 200, sent.text  # police sees the incident (and its number)
    grant = _grant(hub_api, "traffic", "police", "incident share")
    with hub_api.owner() as conn:
        conn.execute("UPDATE access_grants SET incident_id = %s WHERE id = %s",
                     (inc.json()["id"], grant["id"]))
    for side in ("traffic", "police"):
        listed = {g["id"]: g for g in c.get("/api/v1/grants", headers=hub_api.headers(side)).json()}
        assert listed[grant["id"]]["incident_number"] == inc.json()["number"], side
        assert listed[grant["id"]]["incident_id"] == inc.json()["id"], side
    r = c.post(f"/api/v1/grants/{grant['id']}/revoke", headers=traffic)
    assert r.status_code == 409 and r.json()["code"] == "grant_incident_bound"
    assert c.get(f"/api/v1/grants/{grant['id']}", headers=traffic).json()["active"]


def test_view_sessions_say_why_the_hub_ended_them(hub_api: HubApi) -> None:
    sid = uuid.uuid4()
    with hub_api.owner() as conn:
        conn.execute(
            "INSERT INTO view_sessions (id, camera_id, department_id, viewer, protocols,"
            " expires_at, ended_at, ended_code, ended_reason) VALUES (%s, 'cam-x', 'police',"
            " 'user:police-chief', '{webrtc}', now() + interval '1 minute', now(),"
            " 'grant_revoked', 'the grant was revoked')", (sid,))
    rows = hub_api.client.get("/api/v1/streams/sessions", headers=hub_api.headers("police")).json()
    row = next(r for r in rows if r["id"] == str(sid))
    assert row["ended_code"] == "grant_revoked" and row["ended_reason"] == "the grant was revoked"
    assert row["ended_at"] is not None
