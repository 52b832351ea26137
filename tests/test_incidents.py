"""Incidents end to end on a real PostgreSQL: rules, dispatch with incident-bound grants,
merging, escalation of breached limits, one winner of concurrent actions, photos, stats."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from PIL import Image

from adapters.model import Event
from devkit.fixtures.hubapi import HubApi, build_hub, seed_city
from devkit.fixtures.wait import wait_for
from hub.store.writer import BatchWriter

INCIDENTS = {
    "limits": [
        {"kind": "*", "acknowledge_s": 3600, "dispatch_s": 3600, "resolve_s": 86400},
        {"kind": "slow", "acknowledge_s": 0.5, "dispatch_s": 3600, "resolve_s": 86400},
    ],
    "escalation": [
        {"after_s": 0, "roles": ["admin"]},
        {"after_s": 1, "roles": ["admin"], "departments": ["police"]},
    ],
    "tick_s": 0.2,
}


@pytest.fixture
def hub(pg_dsn: str, tmp_path: Path) -> Iterator[HubApi]:
    h = build_hub(pg_dsn, tmp_path / "state", incidents=INCIDENTS)
    seed_city(h)
    with h.client:
        yield h
    h.runtime.close()


def write_events(hub: HubApi, *events: Event) -> None:
    async def go() -> None:
        async with await psycopg.AsyncConnection.connect(hub.owner_dsn) as conn:
            await BatchWriter().write(conn, events=list(events), readings=[])

    asyncio.run(go())


def alarm(site: str = "traffic-s0", camera: str | None = "traffic-s0-c0") -> Event:
    return Event(occurred_at=datetime.now(UTC), kind="illegal_parking", source_system="traffic",
                 department="traffic", site=site, camera=camera, severity=2)


def act(hub: HubApi, dept: str, iid: str, action: str, **body: Any) -> Any:
    return hub.client.post(f"/api/v1/incidents/{iid}/actions/{action}", json=body,
                           headers=hub.headers(dept))


def add_rule(hub: HubApi, **over: Any) -> None:
    rule = {"name": "parking to police", "event_kinds": ["illegal_parking"],
            "incident_kind": "illegal_parking", "priority": 2, "dispatch_to": ["police"],
            "merge_window_s": 600, **over}
    r = hub.client.post("/api/v1/incident-rules", json=rule, headers=hub.headers("traffic"))
    assert r.status_code == 201, r.text


def queue(hub: HubApi, dept: str, **params: Any) -> list[dict[str, Any]]:
    r = hub.client.get("/api/v1/incidents", params=params, headers=hub.headers(dept))
    assert r.status_code == 200, r.text
    return list(r.json())


def test_rule_dispatches_shares_merges_and_closing_revokes(hub: HubApi) -> None:
    cam = "/api/v1/cameras/traffic-s0-c0"
    assert hub.client.get(cam, headers=hub.headers("police")).status_code == 404
    add_rule(hub)
    write_events(hub, alarm())
    inc = wait_for(lambda: queue(hub, "police", side="assigned"), what="dispatched incident")[0]
    assert inc["state"] == "dispatched" and inc["department_id"] == "traffic"
    assert inc["source"] == "rule" and inc["event_count"] == 1
    # The receiving department sees the attached camera while the incident is open.
    assert hub.client.get(cam, headers=hub.headers("police")).status_code == 200
    assert hub.client.get("/api/v1/cameras/traffic-s1-c0",
                          headers=hub.headers("police")).status_code == 404
    # ...and its recordings for the attached time span, no more.
    with hub.owner() as conn:
        span = conn.execute("SELECT min(starts_at), max(ends_at) FROM incident_cameras"
                            " WHERE incident_id = %s", (inc["id"],)).fetchone()
    played = hub.client.post(f"{cam}/play", json={"protocols": ["playback"]},
                             headers=hub.headers("police"))
    assert played.status_code == 200, played.text
    assert span is not None and played.json()["playback_window"] == [
        span[0].timestamp(), span[1].timestamp()]
    # Exactly the attached events are shared, not others of their kind at their site.
    with hub.owner() as conn:
        attached = conn.execute("SELECT event_id FROM incident_events WHERE incident_id = %s",
                                (inc["id"],)).fetchone()
        other = conn.execute(  # received long ago: no rule looks at it, nothing attaches it
            "INSERT INTO events (id, occurred_at, received_at, source_system, kind, severity,"
            " department_id, site_id) VALUES (gen_random_uuid(), now(), now() - interval '1 h',"
            " 'traffic', 'illegal_parking', 2, 'traffic', 'traffic-s0') RETURNING id").fetchone()
    assert attached is not None and other is not None
    police = hub.headers("police")
    assert hub.client.get(f"/api/v1/events/{attached[0]}", headers=police).status_code == 200
    assert hub.client.get(f"/api/v1/events/{other[0]}", headers=police).status_code == 404
    # A repeat at the same place joins the open incident.
    write_events(hub, alarm())
    wait_for(lambda: queue(hub, "traffic")[0]["event_count"] == 2, what="merge")
    assert len(queue(hub, "traffic")) == 1
    # Elsewhere: a new incident.
    write_events(hub, alarm("traffic-s1", None))
    wait_for(lambda: len(queue(hub, "traffic")) == 2, what="second incident")
    iid = inc["id"]
    assert act(hub, "police", iid, "start").status_code == 200
    assert act(hub, "police", iid, "verify").json()["code"] == "incident_not_your_side"
    assert act(hub, "police", iid, "resolve", reason="towed").status_code == 200
    assert act(hub, "traffic", iid, "verify").status_code == 200
    r = act(hub, "traffic", iid, "close")
    assert r.status_code == 200 and r.json()["state"] == "closed"
    closed = time.monotonic()
    wait_for(lambda: hub.client.get(cam, headers=hub.headers("police")).status_code == 404,
             timeout=5, what="camera access to end")
    assert time.monotonic() - closed < 5
    detail = hub.client.get(f"/api/v1/incidents/{iid}", headers=hub.headers("traffic")).json()
    actions = [t["action"] for t in detail["timeline"]]
    assert actions[:2] == ["create", "dispatch"] and "merge" in actions
    assert actions[-4:] == ["start", "resolve", "verify", "close"]
    assert detail["assignees"][0]["ended_at"] is not None
    with hub.owner() as conn:
        audit = [r[0] for r in conn.execute(
            "SELECT action FROM audit_log WHERE target_id = %s ORDER BY seq", (iid,))]
        grants = conn.execute("SELECT count(*), count(revoked_at) FROM access_grants"
                              " WHERE incident_id = %s", (iid,)).fetchone()
    assert audit[0] == "incident.create" and "incident.close" in audit
    assert grants is not None and grants[0] >= 1 and grants[0] == grants[1]
    # A rule can be removed while its incidents stay.
    rules = hub.client.get("/api/v1/incident-rules", headers=hub.headers("traffic")).json()
    r = hub.client.delete(f"/api/v1/incident-rules/{rules[0]['id']}",
                          headers=hub.headers("traffic"))
    assert r.status_code == 204
    assert len(queue(hub, "traffic", state=["closed"])) == 1


def test_hand_back_returns_the_case_and_its_access(hub: HubApi) -> None:
    r = hub.client.post("/api/v1/incidents", headers=hub.headers("traffic"), json={
        "kind": "illegal_parking", "title": "Blocked lane", "site": "traffic-s0",
        "cameras": [{"camera": "traffic-s0-c1", "starts_at": "2026-01-01T00:00:00Z",
                     "ends_at": "2026-01-01T00:10:00Z"}],
        "dispatch_to": [{"department": "police"}]})
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    assert r.json()["state"] == "dispatched"
    cam = "/api/v1/cameras/traffic-s0-c1"
    assert hub.client.get(cam, headers=hub.headers("police")).status_code == 200
    assert act(hub, "police", iid, "hand_back").json()["code"] == "incident_reason_required"
    r = act(hub, "police", iid, "hand_back", reason="not ours: city management")
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    assert hub.client.get(cam, headers=hub.headers("police")).status_code == 404
    assert hub.client.get(f"/api/v1/incidents/{iid}", headers=hub.headers("bus")
                          ).status_code == 404
    r = act(hub, "traffic", iid, "dispatch", assignees=[{"department": "citymgmt"},
                                                        {"department": "traffic",
                                                         "assignee": "unit 7"}])
    assert r.status_code == 200 and len([a for a in r.json()["assignees"]
                                          if a["ended_at"] is None]) == 2


def test_concurrent_actions_leave_one_winner(hub: HubApi) -> None:
    r = hub.client.post("/api/v1/incidents", headers=hub.headers("traffic"),
                        json={"kind": "crash", "title": "Crash", "location":
                              {"lat": 31.2, "lon": 121.4}})
    iid, version = r.json()["id"], r.json()["version"]
    assert r.json()["source"] == "map"
    hub.headers("traffic")
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def go(action: str) -> None:
        barrier.wait()
        results.append(act(hub, "traffic", iid, action, version=version, reason="dup"))

    threads = [threading.Thread(target=go, args=(a,)) for a in ("acknowledge", "cancel")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["code"] == "incident_version_conflict"
    final = hub.client.get(f"/api/v1/incidents/{iid}", headers=hub.headers("traffic")).json()
    assert final["version"] == version + 1


def test_breach_escalates_level_by_level(hub: HubApi) -> None:
    r = hub.client.post("/api/v1/incidents", headers=hub.headers("traffic"),
                        json={"kind": "slow", "title": "Nobody looks", "site": "traffic-s0"})
    iid = r.json()["id"]

    def level() -> int:
        d = hub.client.get(f"/api/v1/incidents/{iid}", headers=hub.headers("traffic")).json()
        return int(d["escalation_level"]) if "acknowledge" in d["breached"] else 0

    wait_for(lambda: level() >= 2, what="two escalation levels")
    notes = hub.client.get("/api/v1/incidents/notifications", headers=hub.headers("police"))
    assert any(n["reason"] == "breach:acknowledge" and n["level"] == 2 for n in notes.json())
    own = hub.client.get("/api/v1/incidents/notifications", headers=hub.headers("traffic")).json()
    assert any(n["level"] == 1 for n in own)
    # Acknowledging meets the limit: escalation for it ends.
    assert act(hub, "traffic", iid, "acknowledge").status_code == 200
    d = hub.client.get(f"/api/v1/incidents/{iid}", headers=hub.headers("traffic")).json()
    assert d["escalation_level"] == 0
    assert [t["detail"]["level"] for t in d["timeline"] if t["action"] == "escalate"] == [1, 2]
    # Each level is also an event of its own, in the filing department's event console.
    now = datetime.now(UTC)
    window = {"start": (now - timedelta(days=1)).isoformat(),
              "end": (now + timedelta(days=1)).isoformat(), "kinds": "incident_escalation"}
    events = hub.client.get("/api/v1/events", params=window, headers=hub.headers("traffic"))
    assert events.status_code == 200, events.text
    mine = [e for e in events.json()["items"] if e["attributes"]["incident"] == iid]
    assert sorted(e["attributes"]["level"] for e in mine) == [1, 2], mine
    assert {(e["site"], e["source_system"], e["attributes"]["limit"]) for e in mine} == {
        ("traffic-s0", "hub", "acknowledge")}


def test_photos_are_checked_by_content_and_stats_export(hub: HubApi) -> None:
    r = hub.client.post("/api/v1/incidents", headers=hub.headers("traffic"),
                        json={"kind": "pothole", "title": "Pothole", "site": "traffic-s1"})
    iid = r.json()["id"]
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(buf, "PNG")
    url = f"/api/v1/incidents/{iid}/photos"
    r = hub.client.post(url, headers=hub.headers("traffic"),
                        files={"file": ("x.jpg", buf.getvalue(), "image/jpeg")},
                        data={"caption": "现场照片"})
    assert r.status_code == 201, r.text
    photo = r.json()["photos"][0]
    assert photo["content_type"] == "image/png" and photo["width"] == 64
    got = hub.client.get(f"{url}/{photo['id']}", headers=hub.headers("traffic"))
    assert got.content == buf.getvalue()
    bad = hub.client.post(url, headers=hub.headers("traffic"),
                          files={"file": ("x.png", b"<script>", "image/png")})
    assert bad.status_code == 422 and bad.json()["code"] == "photo_bad_type"
    stats = hub.client.get("/api/v1/incident-stats", headers=hub.headers("traffic")).json()
    assert {"key": "pothole", "count": 1} in stats["by_kind"]
    assert {"key": "traffic", "count": 1} in stats["by_department"]
    assert {"key": "new", "count": 1} in stats["by_state"]
    assert stats["totals"]["total"] == 1 and stats["per_day"][0]["count"] == 1
    assert stats["on_time_share"] is None  # nothing resolved yet
    x = hub.client.get("/api/v1/incident-stats/export", params={"format": "xlsx"},
                       headers=hub.headers("traffic"))
    assert x.status_code == 200 and x.content[:2] == b"PK"
    c = hub.client.get("/api/v1/incident-stats/export", headers=hub.headers("traffic"))
    assert "by_kind,pothole,1" in c.content.decode("utf-8-sig")


def test_one_replica_leads_and_another_takes_over(hub: HubApi) -> None:
    from hub.incidents.settings import IncidentsConfig
    from hub.incidents.worker import IncidentWorker

    cfg = IncidentsConfig.model_validate({"tick_s": 0.1})
    app = hub.client.app
    assert isinstance(app, FastAPI)
    running = app.state.incident_worker
    wait_for(lambda: running.leading, what="the app's worker to lead")
    # Two more replicas start: they wait.
    others = [IncidentWorker(hub.owner_dsn, cfg) for _ in range(2)]
    for w in others:
        w.start()
    try:
        wait_for(lambda: all(w.standby_checks >= 3 for w in others), what="lock attempts")
        assert not any(w.leading for w in others)
        running.stop()  # that replica goes away: one of the others takes over
        wait_for(lambda: sum(w.leading for w in others) == 1, what="a new leader")
        add_rule(hub)
        write_events(hub, alarm())
        wait_for(lambda: queue(hub, "police", side="assigned"), what="incident by the new leader")
    finally:
        for w in others:
            w.stop()
