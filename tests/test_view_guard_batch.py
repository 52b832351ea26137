"""A wall's tiles starting at once (after a relay restart) are admitted by the hub in one
request (streams.auth.guard.ViewGuard.admit), each still on its own verdict. The real hub
app on a real uvicorn server, the relay's guard as the relay runs it."""

from __future__ import annotations

import asyncio
from typing import Any

from core.net import free_port
from devkit.fixtures.hubapi import HubApi, seed_city, serving
from hub.relays import relay_service_headers
from streams.auth.guard import ViewGuard
from streams.auth.tokens import PlayGrant, PlayTokenError, issue_play_token, verify_play_token

CAMERA = "police-s0-c0"


def _grant(hub: HubApi) -> PlayGrant:
    r = hub.client.post(f"/api/v1/cameras/{CAMERA}/play", json={"protocols": ["webrtc"]},
                        headers=hub.headers("police"))
    assert r.status_code == 200, r.text
    return verify_play_token(hub.runtime.play_secret, r.json()["token"], CAMERA, "webrtc")


def test_views_starting_together_are_admitted_in_one_request_each_on_its_verdict(
        hub_api: HubApi) -> None:
    seed_city(hub_api)
    grants = [_grant(hub_api) for _ in range(8)]
    never_opened = verify_play_token(  # signed right, but the hub never opened its session
        hub_api.runtime.play_secret,
        issue_play_token(hub_api.runtime.play_secret, CAMERA, "forger", ttl_s=60,
                         protocols=["webrtc"]), CAMERA, "webrtc")
    service = relay_service_headers(hub_api.runtime.config, hub_api.runtime.play_secret)

    async def admit_all(url: str) -> tuple[list[Any], list[int]]:
        guard = ViewGuard(url, service["Authorization"].split(" ", 1)[1], interval_s=60)
        asked: list[int] = []
        post = guard._post

        async def counted(body: dict[str, list[str]]) -> Any:
            asked.append(len(body["started"]))
            return await post(body)

        guard._post = counted  # type: ignore[method-assign]
        try:
            results = await asyncio.gather(*(guard.admit(g) for g in [*grants, never_opened]),
                                           return_exceptions=True)
        finally:
            await guard.aclose()
        return results, asked

    with serving(hub_api) as url:
        results, asked = asyncio.run(admit_all(url))
    assert results[:8] == [None] * 8, results
    assert isinstance(results[8], PlayTokenError) and "access ended" in str(results[8])
    assert sum(asked) == 9 and len(asked) <= 2, asked  # the first alone, the rest together
    with hub_api.owner() as conn:
        started = conn.execute("SELECT count(*) FROM view_sessions WHERE started_at IS NOT NULL"
                               ).fetchone()
    assert started == (8,)


def test_a_hub_that_cannot_be_asked_refuses_every_waiting_view() -> None:
    secret = "a-play-secret-for-this-test-0123456789"
    grants = [verify_play_token(secret, issue_play_token(secret, CAMERA, "op", ttl_s=60,
                                                         protocols=["webrtc"]), CAMERA, "webrtc")
              for _ in range(3)]

    async def admit_all() -> list[Any]:
        guard = ViewGuard(f"http://127.0.0.1:{free_port()}", "t", interval_s=60, timeout_s=1)
        try:
            return await asyncio.gather(*(guard.admit(g) for g in grants),
                                        return_exceptions=True)
        finally:
            await guard.aclose()

    results = asyncio.run(admit_all())
    assert all(isinstance(r, PlayTokenError) and "cannot confirm access with the hub" in str(r)
               for r in results), results
