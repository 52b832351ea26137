"""The ``playback`` grant scope: watching live does not include recorded footage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from devkit.fixtures.hubapi import HubApi, seed_city
from streams.auth.tokens import PlayTokenError, verify_play_token


def _grant(hub: HubApi, resources: list[str], **extra: object) -> str:
    r = hub.client.post(
        "/api/v1/grants",
        headers=hub.headers("police"),
        json={
            "grantee": "traffic",
            "resources": resources,
            "purpose": "incident review",
            "cameras": ["police-s0-c0"],
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            **extra,
        },
    )
    assert r.status_code in (200, 201), r.text
    return r.json()["id"]


def test_playback_needs_a_playback_grant_and_keeps_its_time_window(hub_api: HubApi) -> None:
    seed_city(hub_api)
    c = hub_api.client
    cam = "police-s0-c0"
    # The owner plays back its own footage, any time.
    own = c.post(
        f"/api/v1/cameras/{cam}/play",
        json={"protocols": ["playback"]},
        headers=hub_api.headers("police"),
    )
    assert own.status_code == 200, own.text
    assert own.json()["playback_url"].endswith(f"/playback/{cam}")
    grant = verify_play_token(hub_api.runtime.play_secret, own.json()["token"], cam, "playback")
    assert grant.window is None
    # Traffic may watch live (video grant) but not play back.
    _grant(hub_api, ["video"])
    live = c.post(
        f"/api/v1/cameras/{cam}/play",
        json={"protocols": ["webrtc"]},
        headers=hub_api.headers("traffic"),
    )
    assert live.status_code == 200
    denied = c.post(
        f"/api/v1/cameras/{cam}/play",
        json={"protocols": ["playback"]},
        headers=hub_api.headers("traffic"),
    )
    assert denied.status_code == 403, denied.text
    try:
        verify_play_token(hub_api.runtime.play_secret, live.json()["token"], cam, "playback")
    except PlayTokenError:
        pass
    else:
        raise AssertionError("a live token allowed playback")
    # With a playback grant limited to an hour of footage, the token carries that window.
    start = datetime.now(UTC) - timedelta(hours=2)
    end = start + timedelta(hours=1)
    _grant(
        hub_api, ["video", "playback"], playback_from=start.isoformat(), playback_to=end.isoformat()
    )
    ok = c.post(
        f"/api/v1/cameras/{cam}/play",
        json={"protocols": ["playback"]},
        headers=hub_api.headers("traffic"),
    )
    assert ok.status_code == 200, ok.text
    grant = verify_play_token(hub_api.runtime.play_secret, ok.json()["token"], cam, "playback")
    assert grant.window == (start.timestamp(), end.timestamp())
    with hub_api.owner() as conn:
        details = [
            d
            for (a, d) in conn.execute("SELECT action, detail FROM audit_log ORDER BY seq")
            if a == "video.playback.authorize"
        ]
    assert len(details) == 2 and details[-1]["playback_window"] == [
        start.timestamp(),
        end.timestamp(),
    ]


def test_evidence_bundle_gains_the_recorded_footage_around_the_event(
    hub_api: HubApi, camera_factory, relay_factory, tmp_path
) -> None:
    import asyncio
    import io
    import json
    import zipfile

    import psycopg

    from adapters.model import Event
    from devkit.fixtures.wait import wait_for
    from hub.audit import evidence, signing
    from hub.store.writer import BatchWriter
    from streams.playback.export import verify_manifest
    from tests.test_recording import recording, segments

    seed_city(hub_api)
    cam_id = "traffic-s0-c0"
    cam = camera_factory([cam_id], mode="loop")
    root = tmp_path / "rec"
    relay = relay_factory(
        {cam_id: cam.url(cam_id)},
        play_secret=hub_api.runtime.play_secret,
        recording={**recording(root, segment_s=2), "cameras": {cam_id: {"mode": "continuous"}}},
    )
    access = hub_api.runtime.config.access
    object.__setattr__(access, "relay_http_url", relay.http)
    wait_for(lambda: len(segments(root, cam_id)) >= 3, timeout=40, what="footage")
    at = segments(root, cam_id)[1]["start"] + 1.0
    ev = Event(
        occurred_at=datetime.fromtimestamp(at, UTC),
        source_system="traffic",
        kind="plate_read",
        department="traffic",
        site="traffic-s0",
        camera=cam_id,
    )

    async def write() -> None:
        async with await psycopg.AsyncConnection.connect(hub_api.owner_dsn) as conn:
            await BatchWriter().write(conn, events=[ev])

    asyncio.run(write())
    r = hub_api.client.post(
        f"/api/v1/events/{ev.id}/evidence",
        params={"recording_pre_s": 1.5, "recording_post_s": 1.5},
        headers=hub_api.headers("traffic"),
    )
    assert r.status_code == 200, r.text
    pem = hub_api.client.get("/api/v1/evidence/public-key").json()["public_key_pem"]
    assert evidence.verify(r.content, signing.load_public(pem)) == []
    z = zipfile.ZipFile(io.BytesIO(r.content))
    mp4 = z.read(f"recordings/{cam_id}.mp4")
    manifest = json.loads(z.read(f"recordings/{cam_id}.manifest.json"))
    assert verify_manifest(manifest, mp4, hub_api.runtime.play_secret) == []
    assert manifest["start"] == at - 1.5 and manifest["segments"]
