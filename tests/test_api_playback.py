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
    own = c.post(f"/api/v1/cameras/{cam}/play", json={"protocols": ["playback"]},
                 headers=hub_api.headers("police"))
    assert own.status_code == 200, own.text
    assert own.json()["playback_url"].endswith(f"/playback/{cam}")
    grant = verify_play_token(hub_api.runtime.play_secret, own.json()["token"], cam, "playback")
    assert grant.window is None
    # Traffic may watch live (video grant) but not play back.
    _grant(hub_api, ["video"])
    live = c.post(f"/api/v1/cameras/{cam}/play", json={"protocols": ["webrtc"]},
                  headers=hub_api.headers("traffic"))
    assert live.status_code == 200
    denied = c.post(f"/api/v1/cameras/{cam}/play", json={"protocols": ["playback"]},
                    headers=hub_api.headers("traffic"))
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
    _grant(hub_api, ["video", "playback"], playback_from=start.isoformat(),
           playback_to=end.isoformat())
    ok = c.post(f"/api/v1/cameras/{cam}/play", json={"protocols": ["playback"]},
                headers=hub_api.headers("traffic"))
    assert ok.status_code == 200, ok.text
    grant = verify_play_token(hub_api.runtime.play_secret, ok.json()["token"], cam, "playback")
    assert grant.window == (start.timestamp(), end.timestamp())
    with hub_api.owner() as conn:
        details = [
            d for (a, d) in conn.execute("SELECT action, detail FROM audit_log ORDER BY seq")
            if a == "video.playback.authorize"
        ]
    assert len(details) == 2 and details[-1]["playback_window"] == [
        start.timestamp(), end.timestamp()
    ]
