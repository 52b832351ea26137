"""Isolation across departments on a real PostgreSQL (marker ``isolation``).

Hypothesis generates sharing grants (scoped, some expired, revoked or not yet
started, some naming other departments' resources) and every endpoint that
returns data is compared, for every department, with the pure-Python oracle
(:class:`hub.auth.grants.Visibility`): nothing outside a caller's rights is ever
returned, and nothing inside them is missing. Row-level security is checked on
its own, as the API role without the application's filter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devkit.fixtures.hubapi import DEPARTMENTS, KINDS, HubApi, World, build_hub, seed_city
from hub.auth.grants import Grant, Visibility

pytestmark = pytest.mark.isolation


@pytest.fixture(scope="module")
def city(
    pg_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[HubApi, World]]:
    dsn = pg_server.create_database()
    hub = build_hub(dsn, tmp_path_factory.mktemp("iso"))
    try:
        with hub.client:
            yield hub, seed_city(hub)
    finally:
        hub.runtime.close()
        pg_server.drop_database(dsn)


def _subset(pool: list[str]) -> st.SearchStrategy[list[str] | None]:
    return st.none() | st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True)


@st.composite
def grants(draw: st.DrawFn, world: World) -> dict[str, Any]:
    grantor = draw(st.sampled_from(DEPARTMENTS))
    grantee = draw(st.sampled_from([d for d in DEPARTMENTS if d != grantor]))
    own_sites = [s for s, d in world.sites.items() if d == grantor]
    own_cams = [c for c, v in world.cameras.items() if v[0] == grantor]
    own_sensors = [s for s, v in world.sensors.items() if v[0] == grantor]
    # sometimes name another department's resources: they must grant nothing
    all_cams, all_sites = list(world.cameras), list(world.sites)
    state = draw(st.sampled_from(["active", "active", "active", "expired", "revoked", "future"]))
    now = datetime.now(UTC)
    return {
        "id": str(uuid.uuid4()),
        "grantor": grantor,
        "grantee": grantee,
        "resources": draw(
            st.lists(
                st.sampled_from(["video", "events", "readings"]),
                min_size=1,
                max_size=3,
                unique=True,
            )
        ),
        "cameras": draw(_subset(own_cams) | _subset(all_cams)),
        "sites": draw(_subset(own_sites) | _subset(all_sites)),
        "sensors": draw(_subset(own_sensors)),
        "systems": draw(_subset(["safecity", "traffic", "citymgmt", "overload", "bus", "edge"])),
        "kinds": draw(_subset(KINDS)),
        "starts_at": now + timedelta(hours=1) if state == "future" else None,
        "expires_at": now - timedelta(seconds=1)
        if state == "expired"
        else now + timedelta(hours=2),
        "revoked_at": now - timedelta(seconds=1) if state == "revoked" else None,
    }


def _install(hub: HubApi, rows: list[dict[str, Any]]) -> list[Grant]:
    with hub.owner() as conn:
        conn.execute("DELETE FROM access_grants")
        for g in rows:
            conn.execute(
                "INSERT INTO access_grants (id, grantor_department, grantee_department, resources,"
                " cameras, sites, sensors, systems, kinds, purpose, starts_at, expires_at,"
                " revoked_at,"
                " created_by) VALUES (%(id)s, %(grantor)s, %(grantee)s, %(resources)s, %(cameras)s,"
                " %(sites)s, %(sensors)s, %(systems)s, %(kinds)s, 'isolation test', %(starts_at)s,"
                " %(expires_at)s, %(revoked_at)s, 'test')",
                g,
            )
    fs = lambda v: None if v is None else frozenset(v)  # noqa: E731
    return [
        Grant(
            id=g["id"],
            grantor=g["grantor"],
            grantee=g["grantee"],
            resources=frozenset(g["resources"]),
            expires_at=g["expires_at"],
            starts_at=g["starts_at"],
            revoked_at=g["revoked_at"],
            cameras=fs(g["cameras"]),
            sites=fs(g["sites"]),
            sensors=fs(g["sensors"]),
            systems=fs(g["systems"]),
            kinds=fs(g["kinds"]),
        )
        for g in rows
    ]


def _expected(world: World, vis: Visibility) -> dict[str, set[str]]:
    return {
        "cameras": {c for c, (d, s, sy) in world.cameras.items() if vis.sees_camera(d, s, c, sy)},
        "sites": {s for s, d in world.sites.items() if vis.sees_site(d, s)},
        "sensors": {s for s, (d, site) in world.sensors.items() if vis.sees_reading(d, site, s)},
        "events": {
            e for e, (d, s, c, sy, k) in world.events.items() if vis.sees_event(d, s, c, sy, k)
        },
    }


def _ids(resp: Any) -> set[str]:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    items = body["items"] if isinstance(body, dict) else body
    return {str(i.get("id") or i.get("sensor")) for i in items}


def _check_department(hub: HubApi, world: World, dept: str, vis: Visibility) -> None:
    c, h = hub.client, hub.headers(dept)
    want = _expected(world, vis)
    now = datetime.now(UTC)
    window = {
        "start": (now - timedelta(hours=2)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
    }
    assert _ids(c.get("/api/v1/cameras", headers=h)) == want["cameras"]
    assert _ids(c.get("/api/v1/sites", headers=h)) == want["sites"]
    assert _ids(c.get("/api/v1/sensors", headers=h)) == want["sensors"]
    assert (
        _ids(c.get("/api/v1/events", params={**window, "limit": 1000}, headers=h)) == want["events"]
    )
    assert _ids(c.get("/api/v1/readings/latest", headers=h)) == want["sensors"]
    counts = c.get(
        "/api/v1/events/counts",
        params={**window, "bucket": "day", "group_by": "department"},
        headers=h,
    ).json()
    assert isinstance(counts, list), counts
    per_dept: dict[str, int] = {}
    for row in counts:
        per_dept[row["group"]] = per_dept.get(row["group"], 0) + row["n"]
    expected_counts: dict[str, int] = {}
    for e in want["events"]:
        d = world.events[e][0]
        expected_counts[d] = expected_counts.get(d, 0) + 1
    assert per_dept == expected_counts
    # single-item endpoints answer 404 outside the rights, exactly as for unknown ids
    hidden_cams = sorted(set(world.cameras) - want["cameras"])[:3]
    for cam in hidden_cams:
        assert c.get(f"/api/v1/cameras/{cam}", headers=h).status_code == 404
        assert c.post(f"/api/v1/cameras/{cam}/play", json={}, headers=h).status_code == 404
    for cam in sorted(want["cameras"])[:2]:
        assert c.post(f"/api/v1/cameras/{cam}/play", json={}, headers=h).status_code == 200
    for e in sorted(set(world.events) - want["events"])[:3]:
        assert c.get(f"/api/v1/events/{e}", headers=h).status_code == 404
        assert c.post(f"/api/v1/events/{e}/evidence", headers=h).status_code == 404
    for s in sorted(set(world.sensors) - want["sensors"])[:2]:
        r = c.get(
            "/api/v1/readings/series", params={**window, "sensor": s, "metric": "pm25"}, headers=h
        )
        assert r.status_code == 404
    # row-level security alone (the API role, no application filter) agrees where it applies
    with hub.runtime.pool.connection() as conn:
        conn.execute("SELECT set_config('cityhub.department', %s, true)", (dept,))
        assert {r[0] for r in conn.execute("SELECT id FROM cameras")} == want["cameras"]
        assert {r[0] for r in conn.execute("SELECT id FROM sites")} == want["sites"]
        assert {r[0] for r in conn.execute("SELECT id FROM sensors")} == want["sensors"]


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_department_sees_outside_its_grants(
    city: tuple[HubApi, World], data: st.DataObject
) -> None:
    hub, world = city
    rows = data.draw(st.lists(grants(world), max_size=6), label="grants")
    installed = _install(hub, rows)
    now = datetime.now(UTC)
    for dept in DEPARTMENTS:
        _check_department(hub, world, dept, Visibility.compute(dept, installed, now))


def test_revoked_and_expired_grants_stop_access_at_once(city: tuple[HubApi, World]) -> None:
    hub, world = city
    _install(hub, [])
    c = hub.client
    cam = "police-s0-c0"
    body = {
        "grantee": "traffic",
        "resources": ["video", "events"],
        "purpose": "incident 7",
        "cameras": [cam],
        "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }
    r = c.post("/api/v1/grants", json=body, headers=hub.headers("police"))
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    traffic = hub.headers("traffic")
    assert c.get(f"/api/v1/cameras/{cam}", headers=traffic).status_code == 200
    assert c.post(f"/api/v1/cameras/{cam}/play", json={}, headers=traffic).status_code == 200
    # a department cannot revoke someone else's grant
    assert c.post(f"/api/v1/grants/{gid}/revoke", headers=traffic).status_code == 404
    assert c.post(f"/api/v1/grants/{gid}/revoke", headers=hub.headers("police")).status_code == 200
    assert c.get(f"/api/v1/cameras/{cam}", headers=traffic).status_code == 404
    assert c.post(f"/api/v1/cameras/{cam}/play", json={}, headers=traffic).status_code == 404

    r = c.post("/api/v1/grants", json=body, headers=hub.headers("police"))
    assert c.get(f"/api/v1/cameras/{cam}", headers=traffic).status_code == 200
    with hub.owner() as conn:  # the clock passes the expiry
        conn.execute(
            "UPDATE access_grants SET expires_at = now() - interval '1 second' WHERE id = %s",
            (r.json()["id"],),
        )
    assert c.get(f"/api/v1/cameras/{cam}", headers=traffic).status_code == 404
    with hub.owner() as conn:
        actions = [
            a for (a,) in conn.execute("SELECT action FROM audit_log WHERE action LIKE 'grant.%'")
        ]
    assert actions == ["grant.create", "grant.revoke", "grant.create"]


def test_grants_can_only_share_what_the_grantor_owns(city: tuple[HubApi, World]) -> None:
    hub, _ = city
    body = {
        "grantee": "bus",
        "resources": ["video"],
        "purpose": "steal",
        "cameras": ["traffic-s0-c0"],
        "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }
    r = hub.client.post("/api/v1/grants", json=body, headers=hub.headers("police"))
    assert r.status_code == 422
    # nor write another department's registry (RLS refuses even if the app forgot to check)
    with hub.runtime.pool.connection() as conn:
        conn.execute("SELECT set_config('cityhub.department', 'police', true)")
        assert (
            conn.execute("UPDATE cameras SET name = 'x' WHERE department_id = 'traffic'").rowcount
            == 0
        )
