"""Layouts API and UI routes on the real API and PostgreSQL (no browser): per-user and
department-shared layouts, rights on cameras, static files and the relay gateway's rules."""

from __future__ import annotations

from devkit.fixtures.hubapi import HubApi, seed_city
from hub.store.scalar import scalar

TILES = [{"col": c, "row": r} for r in range(2) for c in range(2)]
WALL = {"name": "Ops", "columns": 2, "rows": 2, "shared": False,
        "tiles": [{**t, "camera": None} for t in TILES]}


def _wall(cameras: list[str | None], **kw: object) -> dict[str, object]:
    tiles = [{**t, "camera": c} for t, c in zip(TILES, cameras + [None] * 4, strict=False)]
    return {**WALL, "tiles": tiles, **kw}


def test_layouts_are_private_until_shared_and_stay_in_the_department(hub_api: HubApi) -> None:
    seed_city(hub_api)
    hub_api.add_user("police-op2", "police", ["operator"])
    op2 = {"Authorization": "Bearer " + hub_api.login("police-op2")["access_token"]}
    chief = hub_api.headers("police")
    c = hub_api.client

    mine = c.post("/api/v1/layouts", json=_wall(["police-s0-c0", "police-s1-c1"]), headers=chief)
    assert mine.status_code == 201, mine.text
    lid = mine.json()["id"]
    assert mine.json()["mine"] and mine.json()["tiles"][1]["camera"] == "police-s1-c1"
    assert c.get("/api/v1/layouts", headers=op2).json() == []  # private
    assert c.get(f"/api/v1/layouts/{lid}", headers=op2).status_code == 404

    shared = c.put(f"/api/v1/layouts/{lid}", json=_wall(["police-s0-c0"], shared=True),
                   headers=chief)
    assert shared.status_code == 200 and shared.json()["shared"]
    seen = c.get("/api/v1/layouts", headers=op2).json()
    assert [(s["id"], s["mine"], s["owner"]) for s in seen] == [(lid, False, "police-chief")]
    # Read-only to other members without the admin role; other departments never see it.
    assert c.put(f"/api/v1/layouts/{lid}", json=_wall([]), headers=op2).status_code == 403
    assert c.delete(f"/api/v1/layouts/{lid}", headers=op2).status_code == 403
    assert c.get("/api/v1/layouts", headers=hub_api.headers("traffic")).json() == []
    assert c.get(f"/api/v1/layouts/{lid}", headers=hub_api.headers("traffic")).status_code == 404

    assert c.post("/api/v1/layouts", json=_wall([]), headers=chief).status_code == 409  # same name
    assert c.delete(f"/api/v1/layouts/{lid}", headers=chief).status_code == 204
    assert c.get("/api/v1/layouts", headers=op2).json() == []


def test_layouts_refuse_cameras_the_caller_may_not_watch_and_bad_grids(hub_api: HubApi) -> None:
    seed_city(hub_api)
    c, police = hub_api.client, hub_api.headers("police")
    r = c.post("/api/v1/layouts", json=_wall(["traffic-s0-c0"]), headers=police)
    assert r.status_code == 422 and "traffic-s0-c0" in r.text
    r = c.post("/api/v1/layouts", json=_wall(["no-such-cam"]), headers=police)
    assert r.status_code == 422
    overlap = {**WALL, "tiles": [{"col": 0, "row": 0, "w": 2, "h": 2}, {"col": 1, "row": 1}]}
    assert c.post("/api/v1/layouts", json=overlap, headers=police).status_code == 422
    outside = {**WALL, "tiles": [{"col": 2, "row": 0}]}
    assert c.post("/api/v1/layouts", json=outside, headers=police).status_code == 422
    huge = {**WALL, "columns": 1000}
    assert c.post("/api/v1/layouts", json=huge, headers=police).status_code == 422
    assert c.post("/api/v1/layouts", json={**WALL, "extra": 1}, headers=police).status_code == 422
    assert c.get("/api/v1/layouts").status_code == 401


def test_a_shared_layout_empties_tiles_whose_grant_was_revoked(hub_api: HubApi) -> None:
    seed_city(hub_api)
    c, police, traffic = hub_api.client, hub_api.headers("police"), hub_api.headers("traffic")
    with hub_api.owner() as conn:
        grant_id = scalar(
            conn,
            "INSERT INTO access_grants (grantor_department, grantee_department, resources, cameras,"
            " purpose, expires_at, created_by) VALUES ('traffic', 'police', '{video}',"
            " '{traffic-s0-c0}', 'test', now() + interval '1 day', 'test') RETURNING id")
    r = c.post("/api/v1/layouts", json=_wall(["police-s0-c0", "traffic-s0-c0"]), headers=police)
    assert r.status_code == 201, r.text
    lid = r.json()["id"]
    assert c.post(f"/api/v1/grants/{grant_id}/revoke", headers=traffic).status_code == 200
    after = c.get(f"/api/v1/layouts/{lid}", headers=police).json()
    assert [t["camera"] for t in after["tiles"]][:2] == ["police-s0-c0", None]
    assert after["hidden"] == 1


def test_the_wall_comes_back_as_each_user_left_it(hub_api: HubApi) -> None:
    seed_city(hub_api)
    hub_api.add_user("police-op2", "police", ["operator"])
    op2 = {"Authorization": "Bearer " + hub_api.login("police-op2")["access_token"]}
    c, chief = hub_api.client, hub_api.headers("police")
    assert c.get("/api/v1/layouts/last", headers=chief).json() is None  # never saved
    saved = c.post("/api/v1/layouts", json=_wall(["police-s0-c0"]), headers=chief).json()
    now = {"layout_id": saved["id"], "columns": 1, "rows": 1,
           "tiles": [{"col": 0, "row": 0, "camera": "police-s1-c1"}]}
    assert c.put("/api/v1/layouts/last", json=now, headers=chief).status_code == 204
    back = c.get("/api/v1/layouts/last", headers=chief).json()
    assert back["layout_id"] == saved["id"] and back["columns"] == 1
    assert back["tiles"][0]["camera"] == "police-s1-c1" and back["hidden"] == 0
    assert c.get("/api/v1/layouts/last", headers=op2).json() is None  # per user
    # Another user's private layout is not named; cameras and grids are checked as for layouts.
    mine = c.put("/api/v1/layouts/last", json=now, headers=op2)
    assert mine.status_code == 204
    assert c.get("/api/v1/layouts/last", headers=op2).json()["layout_id"] is None
    bad = {**now, "tiles": [{"col": 0, "row": 0, "camera": "traffic-s0-c0"}]}
    assert c.put("/api/v1/layouts/last", json=bad, headers=chief).status_code == 422
    outside = {**now, "tiles": [{"col": 1, "row": 0}]}
    assert c.put("/api/v1/layouts/last", json=outside, headers=chief).status_code == 422
    assert c.get("/api/v1/layouts/last").status_code == 401
    assert c.delete(f"/api/v1/layouts/{saved['id']}", headers=chief).status_code == 204
    assert c.get("/api/v1/layouts/last", headers=chief).json()["layout_id"] is None


def test_camera_heading_and_field_of_view(hub_api: HubApi) -> None:
    seed_city(hub_api)
    c, police = hub_api.client, hub_api.headers("police")
    body = {"id": "cone-1", "name": "Cone", "site": "police-s0", "system": "safecity",
            "url": "rtsp://10.0.0.9/stream", "location": {"lat": 30.65, "lon": 104.06},
            "heading": 45, "fov": 70}
    r = c.post("/api/v1/cameras", json=body, headers=police)
    assert r.status_code == 201, r.text
    assert (r.json()["heading"], r.json()["fov"]) == (45, 70)
    r = c.patch("/api/v1/cameras/cone-1", json={"heading": 300.5}, headers=police)
    assert (r.json()["heading"], r.json()["fov"]) == (300.5, 70)
    for bad in ({"heading": 360}, {"heading": -1}, {"fov": 0}, {"fov": 361}):
        r = c.patch("/api/v1/cameras/cone-1", json=bad, headers=police)
        assert r.status_code == 422, bad
    plain = c.get("/api/v1/cameras/police-s0-c0", headers=police).json()
    assert plain["heading"] is None and plain["fov"] is None


def test_ui_files_are_served_locally_and_paths_cannot_escape(hub_api: HubApi) -> None:
    c = hub_api.client
    page = c.get("/ui/")
    assert page.status_code == 200 and '<script type="module" src="/ui/js/app.js">' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    js = c.get("/ui/js/wall.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert c.get("/ui/vendor/leaflet/leaflet-src.esm.js").status_code == 200
    assert c.get("/ui/vendor/uplot/uPlot.esm.js").status_code == 200
    assert c.get("/ui/vendor/markercluster/leaflet.markercluster-src.js").status_code == 200
    for css in ("leaflet/leaflet.css", "markercluster/MarkerCluster.css"):
        assert f'href="/ui/vendor/{css}"' in page.text, css
    for bad in ("/ui/../layouts.py", "/ui/%2e%2e/layouts.py", "/ui/..%2Fsettings.py",
                "/ui/nope.js"):
        assert c.get(bad).status_code == 404, bad
    assert c.get("/", follow_redirects=False).headers["location"] == "/ui/"
    assert c.get("/ui/config.json").json()["basemap"] is None  # no base layer by default


def test_relay_gateway_needs_a_play_token_and_health_needs_a_login(hub_api: HubApi) -> None:
    c = hub_api.client
    assert c.get("/ui/relay/health").status_code == 401
    # Nothing listens at the configured relay address in this test: a clear 502, not a crash
    # (once the wait for a restarting relay is over).
    hub_api.runtime.config.ui.relay_restart_wait_s = 0.2
    r = c.post("/ui/relay/whep/cam1", content=b"v=0", headers={"Content-Type": "application/sdp"})
    assert r.status_code == 502 and r.json()["detail"] == "relay unreachable"
    assert c.post("/ui/relay/whep/cam1", content=b"x" * 70000).status_code == 413
    assert c.get("/ui/relay/snapshot/bad id.jpg").status_code == 422


def test_event_pictures_are_served_to_those_who_see_the_event_and_checked(hub_api: HubApi) -> None:
    import asyncio
    import hashlib
    from datetime import UTC, datetime

    import psycopg

    from adapters.model import Event, MediaRef
    from hub.store.writer import BatchWriter

    seed_city(hub_api)
    media_dir = hub_api.runtime.media_dir
    media_dir.mkdir(parents=True, exist_ok=True)
    jpeg = b"\xff\xd8\xff\xe0" + b"picture" * 100
    (media_dir / "snap.jpg").write_bytes(jpeg)
    good = hashlib.sha256(jpeg).hexdigest()
    event = Event(occurred_at=datetime.now(UTC), kind="intrusion", source_system="safecity",
                  department="police", site="police-s0", camera="police-s0-c0", media=[
                      MediaRef(kind="snapshot", uri="snap.jpg", sha256=good),
                      MediaRef(kind="snapshot", uri="snap.jpg", sha256="0" * 64),
                      MediaRef(kind="snapshot", uri="http://127.0.0.1:9/x.jpg"),  # not pinned
                      MediaRef(kind="clip", uri="snap.jpg")])

    async def write() -> None:
        async with await psycopg.AsyncConnection.connect(hub_api.owner_dsn) as conn:
            await BatchWriter().write(conn, events=[event])

    asyncio.run(write())
    c, police = hub_api.client, hub_api.headers("police")
    url = f"/api/v1/events/{event.id}/media"
    r = c.get(f"{url}/0", headers=police)
    assert r.status_code == 200 and r.content == jpeg and r.headers["content-type"] == "image/jpeg"
    assert c.get(f"{url}/1", headers=police).status_code == 409  # tampered file
    assert c.get(f"{url}/2", headers=police).status_code == 404  # never fetched unpinned
    assert c.get(f"{url}/3", headers=police).status_code == 404  # clips are not pictures
    assert c.get(f"{url}/9", headers=police).status_code == 404
    assert c.get(f"{url}/0", headers=hub_api.headers("traffic")).status_code == 404
    with hub_api.owner() as conn:
        n = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'events.media.get'"
                         " AND target_id = %s", (str(event.id),)).fetchone()
    assert n == (1,)
