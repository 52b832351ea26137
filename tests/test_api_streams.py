"""Play tokens and view sessions, evidence bundles, and live events over SSE filtered by rights."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg

from adapters.model import Event
from devkit.fixtures.hubapi import HubApi, seed_city
from devkit.fixtures.wait import wait_for
from hub.audit import evidence, signing
from hub.relays import relay_service_headers
from hub.store.writer import BatchWriter
from streams.auth.tokens import verify_play_token


def _write(hub: HubApi, events: list[Event]) -> None:
    async def go() -> None:
        async with await psycopg.AsyncConnection.connect(hub.owner_dsn) as conn:
            await BatchWriter().write(conn, events=events)

    asyncio.run(go())


def _actions(hub: HubApi) -> list[str]:
    with hub.owner() as conn:
        return [a for (a,) in conn.execute("SELECT action FROM audit_log ORDER BY seq")]


def test_play_token_view_start_stop_audited(hub_api: HubApi) -> None:
    seed_city(hub_api)
    c = hub_api.client
    r = c.post(
        "/api/v1/cameras/police-s0-c0/play",
        json={"protocols": ["webrtc", "rtsp"]},
        headers=hub_api.headers("police"),
    )
    assert r.status_code == 200, r.text
    play = r.json()
    grant = verify_play_token(hub_api.runtime.play_secret, play["token"], "police-s0-c0", "webrtc")
    assert grant.token_id.replace("-", "") == play["session_id"].replace("-", "")
    # the relay's own route (streams/http/app.py: POST /whep/{camera_id})
    assert play["whep_url"].endswith("/whep/police-s0-c0") and play["rtsp_url"].endswith(
        "/police-s0-c0"
    )

    sid = play["session_id"]
    sync = "/api/v1/streams/sessions/sync"
    # only the relay's service token may report views
    police_sync = c.post(sync, json={"started": [sid]}, headers=hub_api.headers("police"))
    assert police_sync.status_code == 401
    relay = relay_service_headers(hub_api.runtime.config, hub_api.runtime.play_secret)
    unknown = str(uuid4())
    started = c.post(sync, json={"started": [sid, unknown]}, headers=relay)
    assert started.status_code == 200, started.text
    assert started.json()["ended"] == {
        unknown: {"code": "unknown_session", "reason": "no such view session"}}
    assert c.post(sync, json={"live": [sid]}, headers=relay).json()["ended"] == {}
    assert c.post(sync, json={"stopped": [sid]}, headers=relay).status_code == 200
    sessions = c.get("/api/v1/streams/sessions", headers=hub_api.headers("police")).json()
    assert {s["id"] for s in sessions} >= {sid}
    ours = next(s for s in sessions if s["id"] == sid)
    assert ours["started_at"] and ours["stopped_at"]
    actions = _actions(hub_api)
    assert actions.count("video.live.authorize") == 1
    assert "video.live.start" in actions and "video.live.stop" in actions


def test_evidence_bundle_verifies_with_the_published_key(hub_api: HubApi) -> None:
    seed_city(hub_api)
    media = hub_api.runtime.media_dir
    media.mkdir(parents=True, exist_ok=True)
    (media / "snap.jpg").write_bytes(b"\xff\xd8 snapshot")
    (media / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 clip")
    import hashlib

    ev = Event(
        occurred_at=datetime.now(UTC) - timedelta(minutes=1),
        source_system="traffic",
        kind="plate_read",
        department="traffic",
        site="traffic-s0",
        camera="traffic-s0-c0",
        attributes={"plate": "LU1234"},
        media=[
            {
                "kind": "snapshot",
                "uri": "snap.jpg",
                "sha256": hashlib.sha256(b"\xff\xd8 snapshot").hexdigest(),
            },
            {"kind": "clip", "uri": "file://clip.mp4"},
            {"kind": "picture", "uri": "../../etc/passwd"},
        ],
    )
    _write(hub_api, [ev])
    c = hub_api.client
    assert (
        c.post(f"/api/v1/events/{ev.id}/evidence", headers=hub_api.headers("police")).status_code
        == 404
    )
    r = c.post(f"/api/v1/events/{ev.id}/evidence", headers=hub_api.headers("traffic"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    pem = c.get("/api/v1/evidence/public-key").json()["public_key_pem"]
    assert evidence.verify(r.content, signing.load_public(pem)) == []
    import io
    import zipfile

    z = zipfile.ZipFile(io.BytesIO(r.content))
    manifest = json.loads(z.read("manifest.json"))
    assert sorted(manifest["files"]) == ["event.json", "media/00-snapshot.jpg", "media/01-clip.mp4"]
    assert manifest["missing_media"][0]["uri"] == "../../etc/passwd"
    assert "evidence.export" in _actions(hub_api)


def _wait_subscribed(hub: HubApi, count: int, timeout: float = 20) -> None:
    """Until ``count`` live streams have subscribed: each audits its subscription (durably)
    after taking its starting point, so events written after this are theirs."""
    def subscribed() -> int:
        with hub.owner() as conn:
            row = conn.execute(
                "SELECT count(*) FROM audit_log WHERE action = 'events.live.subscribe'"
            ).fetchone()
        return row[0] if row else 0

    wait_for(lambda: subscribed() >= count, timeout, f"{count} live streams subscribed", 0.05)


def _subscribe(hub: HubApi, dept: str, seconds: int, out: list[dict[str, Any]]) -> None:
    with hub.client.stream(
        "GET", "/api/v1/live/events", params={"seconds": seconds}, headers=hub.headers(dept)
    ) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: ") and "access ended" not in line:
                out.append(json.loads(line[6:]))


def test_live_events_follow_grants_as_they_change(hub_api: HubApi) -> None:
    seed_city(hub_api)
    c = hub_api.client
    r = c.post(
        "/api/v1/grants",
        headers=hub_api.headers("police"),
        json={
            "grantee": "traffic",
            "resources": ["events"],
            "purpose": "live incident",
            "sites": ["police-s0"],
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
    )
    gid = r.json()["id"]
    got: dict[str, list[dict[str, Any]]] = {d: [] for d in ("traffic", "bus", "police")}
    threads = [threading.Thread(target=_subscribe, args=(hub_api, d, 6, got[d])) for d in got]
    for t in threads:
        t.start()
    _wait_subscribed(hub_api, len(threads))

    def ev(dept: str, site: str, system: str) -> Event:
        return Event(
            occurred_at=datetime.now(UTC),
            source_system=system,
            kind="alarm",
            department=dept,
            site=site,
        )

    shared, private, own = (
        ev("police", "police-s0", "safecity"),
        ev("police", "police-s1", "safecity"),
        ev("traffic", "traffic-s0", "traffic"),
    )
    _write(hub_api, [shared, private, own])
    delivered = {"traffic": {str(shared.id), str(own.id)}, "police": {str(shared.id),
                                                                      str(private.id)}}
    def reached() -> bool:
        return all(want <= {e["id"] for e in list(got[d])} for d, want in delivered.items())

    wait_for(reached, 20, lambda: f"the grant's events in the grantees' streams: "
             f"{ {d: len(got[d]) for d in got} }", step=0.05)
    assert (
        c.post(f"/api/v1/grants/{gid}/revoke", headers=hub_api.headers("police")).status_code == 200
    )
    after_revoke, own_later = (
        ev("police", "police-s0", "safecity"),
        ev("traffic", "traffic-s1", "traffic"),
    )
    _write(hub_api, [after_revoke, own_later])
    for t in threads:
        t.join(30)
    ids = {d: {e["id"] for e in events} for d, events in got.items()}
    assert ids["traffic"] == {str(shared.id), str(own.id), str(own_later.id)}
    assert ids["bus"] == set()
    assert ids["police"] == {str(shared.id), str(private.id), str(after_revoke.id)}
    actions = _actions(hub_api)
    assert (
        actions.count("events.live.subscribe") == 3
        and actions.count("events.live.unsubscribe") == 3
    )


def _frames(hub: HubApi, dept: str, seconds: int, headers: dict[str, str]) -> list[tuple[str, str]]:
    """(frame id or event name, data) of one live stream."""
    out: list[tuple[str, str]] = []
    frame_id, name = "", ""
    with hub.client.stream(
        "GET", "/api/v1/live/events", params={"seconds": seconds},
        headers={**hub.headers(dept), **headers},
    ) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("id: "):
                frame_id = line[4:]
            elif line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((frame_id if name == "event" else name, line[6:]))
                frame_id, name = "", ""
    return out


def test_live_events_resume_after_a_dropped_connection(hub_api: HubApi) -> None:
    """A console that reconnects with Last-Event-ID gets what was stored meanwhile."""
    seed_city(hub_api)

    def ev() -> Event:
        return Event(occurred_at=datetime.now(UTC), source_system="safecity", kind="alarm",
                     department="police", site="police-s0")

    first: list[tuple[str, str]] = []
    reader = threading.Thread(target=lambda: first.extend(_frames(hub_api, "police", 3, {})))
    reader.start()
    _wait_subscribed(hub_api, 1)
    seen = ev()
    _write(hub_api, [seen])
    reader.join(30)
    assert [json.loads(d)["id"] for _, d in first] == [str(seen.id)]
    last_id = first[0][0]
    missed = [ev(), ev()]  # stored while the console was away
    _write(hub_api, missed)
    resumed = _frames(hub_api, "police", 2, {"Last-Event-ID": last_id})
    assert {json.loads(d)["id"] for _, d in resumed} == {str(e.id) for e in missed}
    # A stale resume point starts an hour back and says so; garbage starts afresh.
    two_hours_ago = int((time.time() - 7200) * 1e6)
    stale = f"{two_hours_ago}.{two_hours_ago}-{seen.id}"
    old = _frames(hub_api, "police", 1, {"Last-Event-ID": stale})
    assert old[0][0] == "gap"
    replayed = {json.loads(d)["id"] for _, d in old[1:]}  # the last hour, seeded rows too
    assert {str(e.id) for e in missed} < replayed and str(seen.id) not in replayed
    assert _frames(hub_api, "police", 1, {"Last-Event-ID": "not-a-frame"}) == []


def test_uploaded_edge_media_is_served_and_exported_when_the_box_is_gone(
    hub_api: HubApi,
) -> None:
    """An edge box's snapshot (its URI unreachable now) comes from the hub's copy."""
    import hashlib
    import io
    import zipfile

    from hub.store.media import MediaBlob

    seed_city(hub_api)
    jpeg = b"\xff\xd8\xff\xe0 edge snapshot"
    sha = hashlib.sha256(jpeg).hexdigest()
    gone = f"http://127.0.0.1:9/snapshots/{sha}.jpg"  # discard port: nobody answers
    ev = Event(occurred_at=datetime.now(UTC) - timedelta(minutes=1), source_system="edge",
               kind="intrusion", department="traffic", site="traffic-s0",
               camera="traffic-s0-c0",
               media=[{"kind": "snapshot", "uri": gone, "sha256": sha,
                       "content_type": "image/jpeg"}])
    c, h = hub_api.client, hub_api.headers("traffic")
    _write(hub_api, [ev])
    assert c.get(f"/api/v1/events/{ev.id}/media/0", headers=h).status_code == 502  # not held
    blob = MediaBlob(sha, "image/jpeg", jpeg, "traffic", "traffic-s0")

    async def upload() -> int:
        async with await psycopg.AsyncConnection.connect(hub_api.owner_dsn) as conn:
            writer = BatchWriter()
            first = (await writer.write(conn, media=[blob, blob])).media_stored
            return first + (await writer.write(conn, media=[blob])).media_stored  # re-send

    assert asyncio.run(upload()) == 1
    r = c.get(f"/api/v1/events/{ev.id}/media/0", headers=h)
    assert r.status_code == 200 and r.content == jpeg
    assert r.headers["content-type"] == "image/jpeg"
    assert c.get(f"/api/v1/events/{ev.id}/media/0",
                 headers=hub_api.headers("police")).status_code == 404  # not police's event
    bundle = c.post(f"/api/v1/events/{ev.id}/evidence", headers=h)
    assert bundle.status_code == 200
    z = zipfile.ZipFile(io.BytesIO(bundle.content))
    assert z.read("media/00-snapshot.jpg") == jpeg
    assert json.loads(z.read("manifest.json"))["missing_media"] == []
