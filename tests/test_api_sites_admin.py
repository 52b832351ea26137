"""What the Sites & cameras and Sharing admin pages rest on: camera reads that carry no
credential field, registry conflicts with stable codes, and a grant's recent uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from devkit.fixtures.hubapi import HubApi

PASSWORD = "Cam-Pa55-never-shown"
URL = "rtsp://10.9.8.7:554/Streaming/Channels/101"
GB_DEVICE = "34020000001320000001"
SITE_FIELDS = {"id", "name", "department", "location"}
CAMERA_FIELDS = {"id", "name", "site", "department", "system", "always_on", "location",
                 "heading", "fov", "has_credentials"}


def _site_and_camera(hub: HubApi, dept: str, site: str, camera: str) -> dict[str, Any]:
    c, h = hub.client, hub.headers(dept)
    r = c.post("/api/v1/sites", headers=h,
               json={"id": site, "name": site.title(), "location": {"lat": 30.66, "lon": 104.07}})
    assert r.status_code == 201, r.text
    r = c.post("/api/v1/cameras", headers=h, json={
        "id": camera, "name": "North gate", "site": site, "system": "traffic", "url": URL,
        "username": "viewer", "password": PASSWORD, "heading": 90, "fov": 70})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_camera_and_site_reads_carry_no_credentials(hub_api: HubApi) -> None:
    c, traffic = hub_api.client, hub_api.headers("traffic")
    made = _site_and_camera(hub_api, "traffic", "gate-n", "gate-n-1")
    assert set(made) == CAMERA_FIELDS and made["has_credentials"] is True
    answers = [c.get(p, headers=traffic) for p in
               ("/api/v1/cameras", "/api/v1/cameras/gate-n-1", "/api/v1/sites",
                "/api/v1/sites/gate-n", "/api/v1/cameras/gate-n-1/recording")]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    listed = next(x for x in answers[0].json() if x["id"] == "gate-n-1")
    assert set(listed) == CAMERA_FIELDS and set(answers[1].json()) == CAMERA_FIELDS
    assert set(answers[3].json()) == SITE_FIELDS
    assert (listed["heading"], listed["fov"]) == (90, 70)
    for a in answers:  # neither the values nor any field named like them
        text = a.text.lower()
        for secret in (PASSWORD.lower(), URL, "password", "username", "secret", "rtsp"):
            assert secret not in text, (secret, a.request.url)
    # a patch without credentials keeps them (the form's empty password field)
    r = c.patch("/api/v1/cameras/gate-n-1", headers=traffic, json={"name": "North gate 2"})
    assert r.status_code == 200 and r.json()["has_credentials"] is True


def test_registry_conflicts_carry_stable_codes(hub_api: HubApi) -> None:
    c, traffic = hub_api.client, hub_api.headers("traffic")
    _site_and_camera(hub_api, "traffic", "gate-s", "gate-s-1")
    again = c.post("/api/v1/sites", headers=traffic, json={"id": "gate-s", "name": "x"})
    assert again.status_code == 409 and again.json()["code"] == "site_id_taken"
    twice = c.post("/api/v1/cameras", headers=traffic, json={
        "id": "gate-s-1", "name": "x", "site": "gate-s", "system": "traffic", "url": URL})
    assert twice.status_code == 409 and twice.json()["code"] == "camera_id_taken"
    busy = c.delete("/api/v1/sites/gate-s", headers=traffic)
    assert busy.status_code == 409 and busy.json()["code"] == "site_in_use"
    bad = c.patch("/api/v1/cameras/gate-s-1", headers=traffic, json={"heading": 400})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid"
    with hub_api.owner() as owner:  # a GB/T 28181 channel bound to the camera
        owner.execute("INSERT INTO gb_devices (id, department_id, site_id) VALUES (%s, %s, %s)",
                      (GB_DEVICE, "traffic", "gate-s"))
        owner.execute("INSERT INTO gb_channels (device_id, id, camera_id, name)"
                      " VALUES (%s, %s, 'gate-s-1', 'ch1')", (GB_DEVICE, GB_DEVICE[:-1] + "1"))
    bound = c.delete("/api/v1/cameras/gate-s-1", headers=traffic)
    assert bound.status_code == 409 and bound.json()["code"] == "camera_in_use"
    with hub_api.owner() as owner:
        owner.execute("DELETE FROM gb_channels WHERE device_id = %s", (GB_DEVICE,))
        owner.execute("DELETE FROM gb_devices WHERE id = %s", (GB_DEVICE,))
    assert c.delete("/api/v1/cameras/gate-s-1", headers=traffic).status_code == 204
    assert c.delete("/api/v1/sites/gate-s", headers=traffic).status_code == 204


def _share(hub: HubApi, camera: str) -> str:
    r = hub.client.post("/api/v1/grants", headers=hub.headers("traffic"), json={
        "grantee": "police", "resources": ["video"], "cameras": [camera],
        "purpose": "watch the gate",
        "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_grants_uses_are_listed_for_both_sides_admins(hub_api: HubApi) -> None:
    c = hub_api.client
    _site_and_camera(hub_api, "traffic", "gate-e", "gate-e-1")
    r = c.post("/api/v1/cameras", headers=hub_api.headers("traffic"), json={
        "id": "gate-e-2", "name": "South", "site": "gate-e", "system": "traffic", "url": URL})
    assert r.status_code == 201, r.text
    used, idle = _share(hub_api, "gate-e-1"), _share(hub_api, "gate-e-2")
    own = c.post("/api/v1/cameras/gate-e-1/play", headers=hub_api.headers("traffic"),
                 json={"protocols": ["snapshot"]})
    assert own.status_code == 200, own.text  # the grantor's own view is no use of a grant
    play = c.post("/api/v1/cameras/gate-e-1/play", headers=hub_api.headers("police"),
                  json={"protocols": ["webrtc", "snapshot"]})
    assert play.status_code == 200, play.text
    for side in ("traffic", "police"):
        uses = c.get(f"/api/v1/grants/{used}/uses", headers=hub_api.headers(side))
        assert uses.status_code == 200, uses.text
        [one] = uses.json()
        assert one["actor"] == "user:police-chief" and one["camera"] == "gate-e-1", one
        assert one["action"] == "video.live.authorize"
        assert one["protocols"] == ["snapshot", "webrtc"]
        assert datetime.fromisoformat(one["at"]) > datetime.now(UTC) - timedelta(minutes=5)
    assert c.get(f"/api/v1/grants/{idle}/uses", headers=hub_api.headers("traffic")).json() == []
    audit = c.get("/api/v1/audit", headers=hub_api.headers("traffic"),
                  params={"action": "grant.uses.read", "before_seq": 2**62}).json()["items"]
    assert [e["target_id"] for e in audit][:2] == [idle, used]  # reading them is audited
    # neither a third department nor a grantor's operator sees them
    stranger = c.get(f"/api/v1/grants/{used}/uses", headers=hub_api.headers("bus"))
    assert stranger.status_code == 404 and stranger.json()["code"] == "not_found"
    hub_api.add_user("traffic-op", "traffic", ["operator"])
    token = hub_api.login("traffic-op")["access_token"]
    denied = c.get(f"/api/v1/grants/{used}/uses", headers={"Authorization": f"Bearer {token}"})
    assert denied.status_code == 403
