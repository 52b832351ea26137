"""PTZ control through the real hub (PostgreSQL, API role, row-level security).

The seeded cameras have RTSP URLs, for which the hub has no PTZ driver: a command that
arbitration allows reaches the driver layer and answers 409 ``ptz_not_supported``; one it
refuses answers 409 ``ptz_controlled_by_higher`` or ``ptz_locked`` before any camera is
asked. So ``ptz_not_supported`` below means "allowed".
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from devkit.fixtures.hubapi import HubApi, build_hub, seed_city
from devkit.fixtures.wait import settle, wait_for
from hub.auth.access import bind_department
from hub.ptz import store
from hub.ptz.arbitration import Holder, Outcome
from streams.onvif.ptz import OnvifPtz

PRIORITIES = {"police": 300, "traffic": 200, "citymgmt": 100}
CAM = "police-s0-c0"
ALLOWED = "ptz_not_supported"  # arbitration passed; an RTSP camera has no PTZ driver


def _hub(pg_dsn: str, tmp_path: Path, idle_s: float) -> Iterator[HubApi]:
    hub = build_hub(pg_dsn, tmp_path / "state",
                    ptz={"lease_idle_s": idle_s, "priorities": PRIORITIES})
    seed_city(hub)
    with hub.client:
        yield hub
    hub.runtime.close()


@pytest.fixture
def hub(pg_dsn: str, tmp_path: Path) -> Iterator[HubApi]:
    yield from _hub(pg_dsn, tmp_path, 30.0)


def grant(hub: HubApi, grantor: str, grantee: str, resources: list[str],
          cameras: list[str] | None = None) -> None:
    r = hub.client.post("/api/v1/grants", headers=hub.headers(grantor), json={
        "grantee": grantee, "resources": resources, "purpose": "joint operation",
        "cameras": cameras,
        "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()})
    assert r.status_code == 201, r.text


def move(hub: HubApi, who: str, camera: str = CAM) -> Any:
    return hub.client.post(f"/api/v1/cameras/{camera}/ptz/move",
                           json={"pan": 0.5, "tilt": 0, "zoom": 0}, headers=hub.headers(who))


def code(r: Any) -> str:
    """The error code of an answer (every PTZ command answers one here: see above)."""
    assert r.status_code in (403, 404, 409), r.text
    return str(r.json()["code"])


def actions(hub: HubApi) -> list[tuple[str, str, dict[str, Any]]]:
    with hub.owner() as conn:
        return [(a, ad, d) for a, ad, d in conn.execute(
            "SELECT action, actor_department, detail FROM audit_log WHERE action LIKE 'ptz.%'"
            " ORDER BY seq")]


def test_higher_priority_takes_over_and_the_loser_is_told(hub: HubApi) -> None:
    for dept in ("traffic", "citymgmt"):
        grant(hub, "police", dept, ["video", "ptz"])
    assert code(move(hub, "citymgmt")) == ALLOWED
    assert code(move(hub, "citymgmt")) == ALLOWED  # renews its own lease
    state = hub.client.get(f"/api/v1/cameras/{CAM}/ptz", headers=hub.headers("traffic")).json()
    assert state["controller"]["department"] == "citymgmt"
    assert state["supported"] is False and "ONVIF" in state["reason"]
    # traffic (200) takes the camera from citymgmt (100) ...
    assert code(move(hub, "traffic")) == ALLOWED
    told = hub.client.get("/api/v1/ptz/notices", headers=hub.headers("citymgmt")).json()
    assert [(n["camera"], n["kind"], n["by_department"]) for n in told] == [
        (CAM, "taken_over", "traffic")]
    assert hub.client.get("/api/v1/ptz/notices", headers=hub.headers("traffic")).json() == []
    # ... and citymgmt is refused while traffic's lease lives, told who holds it.
    refused = move(hub, "citymgmt")
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "ptz_controlled_by_higher"
    assert body["holder"] == {"actor": "user:traffic-chief", "department": "traffic",
                              "priority": 200}
    # Equal priority is refused too: another traffic operator.
    hub.add_user("traffic-op", "traffic", ["operator"])
    token = hub.login("traffic-op")["access_token"]
    same = hub.client.post(f"/api/v1/cameras/{CAM}/ptz/home",
                           headers={"Authorization": f"Bearer {token}"})
    assert same.status_code == 409 and same.json()["code"] == "ptz_controlled_by_higher"
    # The owner (300) takes it back.
    assert code(move(hub, "police")) == ALLOWED
    log = actions(hub)
    assert [a for a, _, _ in log].count("ptz.take_over") == 2
    take = next(d for a, ad, d in log if a == "ptz.take_over" and ad == "traffic")
    assert take["loser_department"] == "citymgmt" and take["priority"] == 200
    assert {a for a, _, _ in log} == {"ptz.command", "ptz.take_over", "ptz.refused",
                                     "ptz.command.failed"}
    cmd = next(d for a, ad, d in log if a == "ptz.command")
    assert cmd["command"] == "move" and cmd["pan"] == 0.5


def test_a_lease_ends_after_the_idle_time(pg_dsn: str, tmp_path: Path) -> None:
    for hub in _hub(pg_dsn, tmp_path, 0.5):
        grant(hub, "police", "citymgmt", ["video", "ptz"])
        assert code(move(hub, "police")) == ALLOWED
        r = settle(partial(move, hub, "citymgmt"),
                   lambda m: code(m) != "ptz_controlled_by_higher", 15, step=0.05)
        assert code(r) == ALLOWED
        # Taking an idle camera is no take-over: nobody is told.
        assert hub.client.get("/api/v1/ptz/notices", headers=hub.headers("police")).json() == []


def test_a_lock_lets_only_the_owner_move(hub: HubApi) -> None:
    cam = "citymgmt-s0-c0"  # owned by the lowest priority
    grant(hub, "citymgmt", "police", ["video", "ptz"])
    assert code(move(hub, "police", cam)) == ALLOWED
    r = hub.client.post(f"/api/v1/cameras/{cam}/ptz/lock", headers=hub.headers("citymgmt"),
                        json={"reason": "market fire"})
    assert r.status_code == 200, r.text
    assert r.json()["lock"]["department"] == "citymgmt"
    assert r.json()["ended_lease"]["department"] == "police"
    told = hub.client.get("/api/v1/ptz/notices", headers=hub.headers("police")).json()
    assert [(n["kind"], n["by_department"]) for n in told] == [("locked", "citymgmt")]
    refused = move(hub, "police", cam)  # even the highest priority
    assert refused.status_code == 409
    assert refused.json()["code"] == "ptz_locked"
    assert refused.json()["lock"]["reason"] == "market fire"
    assert code(move(hub, "citymgmt", cam)) == ALLOWED
    # Only the owner locks or unlocks.
    other = hub.client.delete(f"/api/v1/cameras/{cam}/ptz/lock", headers=hub.headers("police"))
    assert other.status_code == 403 and other.json()["code"] == "ptz_lock_owner_only"
    bad = hub.client.post(f"/api/v1/cameras/{cam}/ptz/lock", headers=hub.headers("citymgmt"),
                          json={"reason": "x", "incident": "00000000-0000-0000-0000-000000000001"})
    assert bad.status_code == 422
    assert hub.client.delete(f"/api/v1/cameras/{cam}/ptz/lock",
                             headers=hub.headers("citymgmt")).status_code == 204
    again = hub.client.delete(f"/api/v1/cameras/{cam}/ptz/lock", headers=hub.headers("citymgmt"))
    assert again.status_code == 404 and again.json()["code"] == "ptz_not_locked"
    # Unlocked: priority decides again (police 300 over citymgmt's live lease).
    assert code(move(hub, "police", cam)) == ALLOWED
    log = [(a, ad) for a, ad, _ in actions(hub)]
    assert ("ptz.lock", "citymgmt") in log and ("ptz.unlock", "citymgmt") in log
    assert ("ptz.refused", "police") in log


def test_without_a_ptz_grant_a_department_watches_but_does_not_move(hub: HubApi) -> None:
    grant(hub, "police", "traffic", ["video"])
    grant(hub, "police", "traffic", ["ptz"], cameras=["police-s1-c0"])
    state = hub.client.get(f"/api/v1/cameras/{CAM}/ptz", headers=hub.headers("traffic"))
    assert state.status_code == 200 and state.json()["may_move"] is False
    r = move(hub, "traffic")
    assert r.status_code == 403 and r.json()["code"] == "ptz_not_granted"
    assert code(move(hub, "traffic", "police-s1-c0")) == ALLOWED  # the granted one
    # A camera the caller cannot see answers exactly like one that does not exist.
    hidden, missing = move(hub, "traffic", "bus-s0-c0"), move(hub, "traffic", "no-such-cam")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    hidden_lock = hub.client.post("/api/v1/cameras/bus-s0-c0/ptz/lock",
                                  headers=hub.headers("traffic"), json={"reason": "x"})
    assert hidden_lock.status_code == 404
    # Row-level security says the same without the API's checks.
    with hub.runtime.pool.connection() as conn:
        bind_department(conn, "traffic")
        with pytest.raises(Exception, match="row-level security"):
            conn.execute("INSERT INTO ptz_leases (camera_id) VALUES (%s)", (CAM,))
        conn.rollback()


def test_bad_values_are_refused_clearly(hub: HubApi) -> None:
    url = f"/api/v1/cameras/{CAM}/ptz"
    for path, body in [("/move", {"pan": 2, "tilt": 0}), ("/absolute", {"pan": 0, "tilt": 0,
                       "zoom": -0.5}), ("/preset/goto", {"token": "a b"}), ("/move", {})]:
        r = hub.client.post(url + path, json=body, headers=hub.headers("police"))
        assert r.status_code == 422, (path, r.text)
    assert not actions(hub)


def _claim_in_thread(hub: HubApi, camera: str, who: Holder, results: list[Outcome],
                     pids: list[int], start: threading.Barrier | None = None) -> threading.Thread:
    def run() -> None:
        with hub.runtime.pool.connection() as conn:
            bind_department(conn, who.department)
            pids.append(conn.info.backend_pid)
            if start is not None:
                start.wait()
            results.append(store.claim(conn, camera, who, 30.0).decision.outcome)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_concurrent_claims_leave_one_winner(hub: HubApi) -> None:
    """Two replicas (two connections) claim one camera at the same moment."""
    grant(hub, "police", "traffic", ["video", "ptz"])
    a, b = (Holder("user", x, f"user:{x}", "traffic", 200) for x in "ab")
    # A camera nobody ever held: both race to create its row.
    results: list[Outcome] = []
    start = threading.Barrier(2)
    threads = [_claim_in_thread(hub, "police-s1-c1", h, results, [], start) for h in (a, b)]
    for t in threads:
        t.join(30)
    assert sorted(results) == sorted([Outcome.acquired, Outcome.held])
    # A camera whose row exists: the second claim waits on the first one's row lock.
    with hub.runtime.pool.connection() as first:
        bind_department(first, "traffic")
        assert store.claim(first, "police-s1-c0", a, 30.0).decision.outcome is Outcome.acquired
        first.commit()
        bind_department(first, "traffic")
        first.execute("UPDATE ptz_leases SET expires_at = clock_timestamp() - interval '1 s'"
                      " WHERE camera_id = 'police-s1-c0'")  # idle again, row kept
        first.commit()
        bind_department(first, "traffic")
        assert store.claim(first, "police-s1-c0", a, 30.0).decision.outcome is Outcome.acquired
        results = []
        pids: list[int] = []
        second = _claim_in_thread(hub, "police-s1-c0", b, results, pids)
        with hub.owner() as watch:
            wait_for(lambda: pids and watch.execute(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                (pids[0],)).fetchone() == (True,), 15, "the second claim to wait for the lock",
                step=0.02)
        first.commit()
    second.join(30)
    assert results == [Outcome.held]
    with hub.owner() as conn:
        holders = conn.execute("SELECT camera_id, holder_id FROM ptz_leases"
                               " WHERE camera_id LIKE 'police-s1-%' ORDER BY 1").fetchall()
    assert len(holders) == 2 and holders[1] == ("police-s1-c1", holders[1][1])
    assert holders[0] == ("police-s1-c0", "a")


def test_an_onvif_camera_moves_through_the_hub(hub: HubApi, onvif_camera: Any) -> None:
    """A camera registered with an onvif:// URL is steered through arbitration and ONVIF:
    the simulated head really moves, presets round-trip, and home brings it back."""
    r = hub.client.post("/api/v1/cameras", headers=hub.headers("police"), json={
        "id": "ptz-dome-1", "name": "Dome", "site": "police-s0", "system": "safecity",
        "url": onvif_camera.onvif_url()})
    assert r.status_code == 201, r.text
    before = asyncio.run(_status(onvif_camera))
    go = hub.client.post("/api/v1/cameras/ptz-dome-1/ptz/absolute", headers=hub.headers("police"),
                         json={"pan": 0.5, "tilt": -0.25, "zoom": 0.5})
    assert go.status_code == 200, go.text
    after = asyncio.run(_status(onvif_camera))
    assert (after.pan, after.tilt) == pytest.approx((0.5, -0.25), abs=0.01), (before, after)
    saved = hub.client.post("/api/v1/cameras/ptz-dome-1/ptz/preset/set",
                            headers=hub.headers("police"), json={"name": "gate"})
    assert saved.status_code == 200, saved.text
    state = hub.client.get("/api/v1/cameras/ptz-dome-1/ptz", headers=hub.headers("police"))
    assert "gate" in [p["name"] for p in state.json()["presets"]], state.text
    assert hub.client.post("/api/v1/cameras/ptz-dome-1/ptz/home",
                           headers=hub.headers("police"), json={}).status_code == 200
    home = asyncio.run(_status(onvif_camera))
    assert (home.pan, home.tilt) != (after.pan, after.tilt)
    assert "ptz.command" in [a for a, _, _ in actions(hub)]


async def _status(cams: Any) -> Any:
    ptz = OnvifPtz(cams.onvif_url())
    try:
        return await ptz.status()
    finally:
        await ptz.aclose()
