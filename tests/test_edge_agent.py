"""The edge agent end to end: scene camera -> analytics -> outbox -> Mosquitto -> ingest -> DB."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import psycopg

from adapters.isapi import IsapiAdapter
from adapters.senml import SenmlAdapter
from devkit.fixtures import edge_scene
from devkit.fixtures.edge import push_auth, site_yaml
from devkit.fixtures.ingest import wait_count
from devkit.fixtures.wait import settle

ZONE = {"id": "right", "polygon": [[0.7, 0.3], [0.95, 0.3], [0.95, 0.7], [0.7, 0.7]]}
LINE = {"id": "mid", "a": [0.5, 0.0], "b": [0.5, 1.0]}


def scene_cameras(url: str) -> list[dict]:
    return [
        {
            "id": "cam-scene",
            "name": "Scene",
            "url": url,
            "analytics": {
                "fps": 5, "zones": [ZONE], "lines": [LINE],
                "clip": {"enabled": True, "pre_s": 2, "post_s": 3},
            },
        }
    ]


def test_scene_gives_intrusions_with_snapshots_and_exact_line_counts_in_the_database(
    tmp_path: Path, broker, migrated_dsn, ingest_workers, scene_camera, edge_agents
) -> None:
    ingest_workers(migrated_dsn, broker.url).start()
    agent = edge_agents(
        site_yaml(tmp_path / "site.yaml", broker.url, scene_cameras(scene_camera.url))
    )
    truth = edge_scene.expected()
    where = "FROM events WHERE site_id = 'xinhua-5th' AND camera_id = 'cam-scene'"
    wait_count(
        migrated_dsn,
        f"SELECT count(*) {where} AND kind = 'line_crossing'",
        truth["in"] + truth["out"],
        timeout=edge_scene.duration() + 40,
    )
    with psycopg.connect(migrated_dsn) as conn:
        rows = conn.execute(
            f"SELECT kind, attributes, media, source_system, device_id, id {where} "
            "ORDER BY occurred_at"
        ).fetchall()
    intrusions = [r for r in rows if r[0] == "intrusion"]
    crossings = [r for r in rows if r[0] == "line_crossing"]
    assert len(intrusions) == truth["zone_entries"]
    directions = [c[1]["direction"] for c in crossings]
    assert directions.count("in") == truth["in"] and directions.count("out") == truth["out"]
    assert crossings[-1][1]["counts"] == {"in": truth["in"], "out": truth["out"]}
    assert all(r[3] == "edge" and r[4] == "box1" for r in rows)
    assert all("clip_request" in r[1] for r in intrusions)
    # Every intrusion has a snapshot reference whose bytes, fetched from the box, match its sha256.
    for _kind, attrs, media, *_ in intrusions:
        assert attrs["zone"] == "right"
        (snap,) = media
        assert snap["kind"] == "snapshot" and snap["content_type"] == "image/jpeg"
        body = httpx.get(snap["uri"], timeout=5).content
        assert body[:2] == b"\xff\xd8" and hashlib.sha256(body).hexdigest() == snap["sha256"]
    assert httpx.get(f"{agent.url}/snapshots/{'0' * 64}.jpg").status_code == 404
    # Clips cut on the box by streams/ follow as 'clip' events covering every evidence event.
    evidence = {str(r[5]) for r in rows if r[0] in ("intrusion", "line_crossing")}
    def stored_clips() -> list[Any]:
        with psycopg.connect(migrated_dsn) as conn:
            return conn.execute(f"SELECT attributes, media {where} AND kind = 'clip'").fetchall()

    clips = settle(stored_clips, lambda cs: evidence <= {i for a, _m in cs for i in a["events"]},
                   60, step=0.5)
    assert evidence <= {i for a, _m in clips for i in a["events"]}
    for attrs, (media,) in clips:
        assert media["kind"] == "clip" and attrs["frames"] > 0
        body = httpx.get(media["uri"], timeout=10).content
        assert body[4:8] == b"ftyp" and hashlib.sha256(body).hexdigest() == media["sha256"]
    # The hub holds a copy of every picture and clip (uploaded through the outbox, ahead of
    # the events): the evidence outlives the box.
    wanted = {m["sha256"] for _k, _a, ms, *_ in intrusions for m in ms}
    wanted |= {m["sha256"] for _a, ms in clips for m in ms}
    def media_held() -> dict[str, Any]:
        with psycopg.connect(migrated_dsn) as conn:
            return dict(conn.execute("SELECT sha256, data FROM media").fetchall())

    held = settle(media_held, lambda h: wanted <= set(h), 30, step=0.5)
    assert wanted <= set(held), wanted - set(held)
    assert all(hashlib.sha256(bytes(held[sha])).hexdigest() == sha for sha in wanted)
    health = httpx.get(f"{agent.url}/health").json()
    assert health["cameras"]["cam-scene"]["line_counts"]["mid"] == {"in": 3, "out": 2}
    with psycopg.connect(migrated_dsn) as conn:
        # The hub took all the box sent (events, health, status): nothing dead-lettered.
        dead = conn.execute("SELECT topic, reason FROM dead_letters WHERE topic LIKE "
                            "'city/police/xinhua-5th/%'").fetchall()
    assert dead == []


def test_listener_adapts_isapi_pushes_and_dead_letters_bad_ones(
    tmp_path: Path, broker, edge_agents, recorder_factory
) -> None:
    rec = recorder_factory(broker.url, "city/police/xinhua-5th/#")
    cfg = site_yaml(tmp_path / "site.yaml", broker.url, adapters=["isapi", "senml"])
    agent = edge_agents(cfg)
    sample = next(iter(IsapiAdapter.samples().values()))
    http = httpx.Client(auth=push_auth(), timeout=10)  # the camera's digest credentials
    ok = http.post(f"{agent.url}/push/isapi?system=traffic", content=sample)
    assert ok.status_code == 200, ok.text
    (event_id,) = ok.json()["ids"]
    rec.wait(lambda r: event_id in r.ids, 20, "the adapted ISAPI event on MQTT")
    assert rec.events[event_id]["source_system"] == "traffic"
    bad = http.post(f"{agent.url}/push/isapi?system=traffic", content=b"<not-xml")
    assert bad.status_code == 422
    dead = list((tmp_path / "state" / "dead-letter").glob("*.bin"))
    assert [p.read_bytes() for p in dead] == [b"<not-xml"]
    assert http.post(f"{agent.url}/push/wim", content=b"{}").status_code == 404  # not enabled
    huge = http.post(f"{agent.url}/push/isapi", content=b"x" * (5 * 1024 * 1024))
    assert huge.status_code == 413
    # Sensor values are telemetry: published as a readings pack on the site's sensor topic.
    senml = next(iter(SenmlAdapter.samples().values()))
    r = http.post(f"{agent.url}/push/senml?system=sensor", content=senml)
    assert r.status_code == 200 and r.json()["readings"] > 0, r.text
    rec.wait(lambda rr: len(rr.readings) >= r.json()["readings"], 20, "the readings on MQTT")
    assert all(x["site"] == "xinhua-5th" for x in rec.readings)
    # An ISAPI keep-alive is no event: the camera's liveness goes up as a reading.
    keep_alive = (
        b'<?xml version="1.0" encoding="UTF-8"?><EventNotificationAlert version="2.0">'
        b"<macAddress>44:19:b6:6d:24:90</macAddress><activePostCount>0</activePostCount>"
        b"<eventType>videoloss</eventType><eventState>inactive</eventState>"
        b"</EventNotificationAlert>"
    )
    beat = http.post(f"{agent.url}/push/isapi?system=safecity", content=keep_alive)
    assert beat.status_code == 200 and beat.json()["events"] == 0, beat.text
    rec.wait(
        lambda rr: any(x["metric"] == "heartbeat" for x in rr.readings), 20, "the keep-alive"
    )
    (seen,) = [x for x in rec.readings if x["metric"] == "heartbeat"]
    assert seen["sensor"] == "4419b66d2490"
    unauthenticated = httpx.post(f"{agent.url}/push/isapi?system=traffic", content=sample)
    assert unauthenticated.status_code == 401 and "Digest" in unauthenticated.headers[
        "www-authenticate"]
    assert httpx.get(f"{agent.url}/health").json()["push"]["refused"]["missing"] >= 1
    http.close()
    assert agent.proc is not None and agent.proc.poll() is None


def test_config_push_is_validated_applied_and_reported(
    tmp_path: Path, broker, edge_agents, recorder_factory
) -> None:
    rec = recorder_factory(broker.url, "city/police/xinhua-5th/edge/#")
    agent = edge_agents(site_yaml(tmp_path / "site.yaml", broker.url))
    rec.wait(lambda r: any(s.get("state") == "online" for s in r.status), 20, "online status")
    topic = "city/police/xinhua-5th/edge/config"
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    try:
        bad = {"version": "v2", "drain_rate": -5, "uplink": {"broker": {"url": "mqtt://evil:1883"}}}
        pub.publish(topic, json.dumps(bad), qos=1, retain=True).wait_for_publish(5)
        rec.wait(
            lambda r: any((s.get("config") or {}).get("rejected") for s in r.status),
            20,
            "rejection in the status",
        )
        rejected = [s for s in rec.status if (s.get("config") or {}).get("rejected")][-1]
        reason = rejected["config"]["rejected"]
        assert "drain_rate" in reason and "uplink" in reason
        assert agent.proc is not None and agent.proc.poll() is None
        good = {"version": "v3", "drain_rate": 123, "health": {"heartbeat_s": 0.5}}
        pub.publish(topic, json.dumps(good), qos=1, retain=True).wait_for_publish(5)
        rec.wait(
            lambda r: any(h.get("config_version") == "v3" for h in r.health),
            20,
            "health reporting config v3",
        )
        h = [h for h in rec.health if h.get("config_version") == "v3"][-1]
        assert h["uplink"]["drain_rate"] == 123
        assert {"cameras", "outbox", "disk", "clock"} <= set(h)
        # Applied configuration survives a restart of the agent.
        agent.stop()
        agent.start()
        assert httpx.get(f"{agent.url}/health").json()["config_version"] == "v3"
        rec.wait(lambda r: r.status[-1].get("state") == "online", 20, "online again")
    finally:
        pub.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()


def test_last_will_marks_a_killed_box_offline(
    tmp_path: Path, broker, edge_agents, recorder_factory
) -> None:
    rec = recorder_factory(broker.url, "city/police/xinhua-5th/edge/status")
    agent = edge_agents(site_yaml(tmp_path / "site.yaml", broker.url, uplink={"keepalive_s": 5}))
    rec.wait(lambda r: any(s.get("state") == "online" for s in r.status), 20, "online status")
    agent.kill()  # no goodbye: only the broker's last will can say it
    rec.wait(lambda r: r.status[-1].get("state") == "offline", 30, "the last will")
    assert rec.status[-1] == {"device": "box1", "state": "offline"}


def test_dead_and_unplugged_cameras_are_reported_not_fatal(
        tmp_path: Path, broker, camera_factory, edge_agents, recorder_factory) -> None:
    from core.net import free_port

    cam = camera_factory(["gate"])
    rec = recorder_factory(broker.url, "city/police/xinhua-5th/edge/events")
    analytics = {"fps": 2}
    agent = edge_agents(site_yaml(tmp_path / "site.yaml", broker.url, [
        {"id": "cam-gate", "name": "Gate", "url": cam.url("gate"), "analytics": analytics},
        {"id": "cam-dead", "name": "Nobody home", "analytics": analytics,
         "url": f"rtsp://127.0.0.1:{free_port()}/none"},
    ]))

    def camera_events(r, kind: str) -> list[dict]:
        return [e for e in (r.events[i] for i in dict.fromkeys(r.order))
                if e["kind"] == kind and e["camera"] == "cam-gate"]

    rec.wait(lambda r: camera_events(r, "camera_online"), 30, "cam-gate online")
    cam.kill()  # the plug is pulled: no RTSP teardown
    rec.wait(lambda r: camera_events(r, "camera_offline"), 40, "cam-gate offline")
    cam.start()
    rec.wait(lambda r: len(camera_events(r, "camera_online")) == 2, 60, "cam-gate back")
    health = httpx.get(f"{agent.url}/health").json()["cameras"]
    assert health["cam-gate"]["state"] == "live" and health["cam-gate"]["analysed_frames"] > 0
    assert health["cam-dead"]["state"] in ("connecting", "failed")
    assert agent.proc is not None and agent.proc.poll() is None
    offline = camera_events(rec, "camera_offline")[0]
    assert offline["severity"] == 2 and "rtsp://" not in json.dumps(offline)
