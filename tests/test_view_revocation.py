"""Taking access away ends what it allowed (#13), on a real hub (uvicorn), a real relay
process and a real camera: a revoked grant stops a live WebRTC, fMP4 and RTSP viewer
within 5 s and its unused play tokens stop working at once; a disabled user's, a
logged-out session's and a deleted API key's views end too, each told why."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import websockets

from devkit.fixtures.hubapi import PASSWORD, HubApi, seed_city, serving
from devkit.fixtures.streams import RELAY_CORES, GstReader, RelayProcess
from devkit.fixtures.wait import until
from streams.auth.service import derive_service_token
from streams.webrtc.client import WhepClient

CUT_OFF_S = 5.0


class Fmp4Viewer:
    """A WebSocket fMP4 viewer that records how and when its stream ended."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fragments = 0
        self.closed: tuple[int, str] | None = None
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with websockets.connect(self.url, max_size=8 * 1024 * 1024) as ws:
            try:
                async for _ in ws:
                    self.fragments += 1
            except websockets.ConnectionClosed:
                pass
            self.closed = (ws.close_code or 0, ws.close_reason or "")

    def start(self) -> Fmp4Viewer:
        self.task = asyncio.create_task(self._run())
        return self


def play(base: str, camera: str, headers: dict[str, str], protocols: list[str]) -> str:
    r = httpx.post(f"{base}/api/v1/cameras/{camera}/play", json={"protocols": protocols},
                   headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def start_city(hub_api: HubApi, camera_factory: Any, relay_factory: Any,
               base: str) -> tuple[str, RelayProcess]:
    world = seed_city(hub_api, ["police", "traffic"])
    camera = next(c for c, (d, _, _) in world.cameras.items() if d == "traffic")
    cams = camera_factory([camera], mode="loop")
    relay = relay_factory({camera: cams.url(camera)}, play_secret=hub_api.runtime.play_secret,
                          hub_url=base, access_check_s=0.5)
    return camera, relay


@pytest.mark.fault
@RELAY_CORES
def test_a_revoked_grant_ends_live_webrtc_fmp4_and_rtsp_views_within_5_s(
    hub_api: HubApi, camera_factory: Any, relay_factory: Any, loopback_ice: None
) -> None:
    with serving(hub_api) as base:
        camera, relay = start_city(hub_api, camera_factory, relay_factory, base)
        owner, police = hub_api.headers("traffic"), hub_api.headers("police")
        expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        made = httpx.post(f"{base}/api/v1/grants", headers=owner, json={
            "grantee": "police", "resources": ["video"], "purpose": "incident 42",
            "expires_at": expires, "cameras": [camera]})
        assert made.status_code == 201, made.text
        protocols = ["fmp4", "rtsp", "webrtc"]
        token, spare = (play(base, camera, police, protocols) for _ in range(2))
        fmp4_url = f"ws://127.0.0.1:{relay.http_port}/fmp4/{camera}?token="
        rtsp_url = f"rtsp://127.0.0.1:{relay.rtsp_port}/{camera}?token="

        async def scenario() -> None:
            whep = WhepClient(f"{relay.http}/whep/{camera}", token)
            await whep.start()
            fmp4 = Fmp4Viewer(fmp4_url + token).start()
            rtsp = GstReader(rtsp_url + token).start()
            try:
                assert await whep.wait_frames(10, 20) >= 10
                await until(lambda: fmp4.fragments >= 10, 20, "fMP4 fragments")
                assert await asyncio.to_thread(rtsp.wait_frames, 10) >= 10, rtsp.errors
                revoked = httpx.post(f"{base}/api/v1/grants/{made.json()['id']}/revoke",
                                     headers=owner)
                assert revoked.status_code == 200
                # unused tokens the grant allowed stop working at once
                refused = httpx.post(f"{relay.http}/whep/{camera}", content="v=0",
                                     headers={"Content-Type": "application/sdp",
                                              "Authorization": f"Bearer {spare}"})
                assert refused.status_code == 401 and "access ended" in refused.text
                health: dict[str, Any] = {}

                service = {"Authorization": "Bearer " + derive_service_token(
                    hub_api.runtime.play_secret)}

                def all_ended() -> bool:
                    health.update(httpx.get(f"{relay.http}/health/{camera}",
                                            headers=service).json())
                    return bool(fmp4.closed and (rtsp.errors or rtsp.eos)
                                and health["webrtc_viewers"] == 0 and health["rtsp_viewers"] == 0)

                cut = time.monotonic()
                await until(all_ended, CUT_OFF_S, "every view ended")
                took = time.monotonic() - cut
                assert fmp4.closed == (4403, "access to this camera was taken away"), took
                why = httpx.get(f"{relay.http}/sessions/{whep_session(token)}").json()
                assert why["ended"]["code"] == "access_revoked"
                late = Fmp4Viewer(fmp4_url + spare).start()
                await until(lambda: late.closed is not None, 10, "refusal of the spare token")
                assert late.closed is not None and late.closed[0] == 4401
            finally:
                await whep.stop()
                rtsp.stop()

        asyncio.run(scenario())
        actions = [r[0] for r in hub_api.owner().execute(
            "SELECT action FROM audit_log ORDER BY at").fetchall()]
        assert "video.live.start" in actions and "video.live.ended" in actions


def whep_session(token: str) -> str:
    """The view session id of a play token (its jti), as the hub's play answer gives it."""
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


@pytest.mark.fault
def test_disabling_a_user_logging_out_and_deleting_a_key_end_their_views(
    hub_api: HubApi, camera_factory: Any, relay_factory: Any
) -> None:
    with serving(hub_api) as base:
        camera, relay = start_city(hub_api, camera_factory, relay_factory, base)
        chief = hub_api.headers("traffic")
        users = {}
        for name in ("op-disabled", "op-logout"):
            made = httpx.post(f"{base}/api/v1/users", headers=chief, json={
                "username": name, "display_name": name, "password": PASSWORD,
                "roles": ["operator"]})
            assert made.status_code == 201, made.text
            login = httpx.post(f"{base}/api/v1/auth/token",
                               data={"username": name, "password": PASSWORD}).json()
            users[name] = (made.json()["id"], login)
        key = httpx.post(f"{base}/api/v1/api-keys", headers=chief,
                         json={"name": "wall", "roles": ["operator"]}).json()
        bearer = {n: {"Authorization": f"Bearer {login['access_token']}"}
                  for n, (_, login) in users.items()}
        tokens = {"op-disabled": play(base, camera, bearer["op-disabled"], ["fmp4"]),
                  "op-logout": play(base, camera, bearer["op-logout"], ["fmp4"]),
                  "key": play(base, camera, {"X-API-Key": key["key"]}, ["fmp4"])}
        url = f"ws://127.0.0.1:{relay.http_port}/fmp4/{camera}?token="

        async def scenario() -> None:
            views = {n: Fmp4Viewer(url + t).start() for n, t in tokens.items()}
            for view in views.values():
                def enough(v: Fmp4Viewer = view) -> bool:
                    return v.fragments >= 5

                await until(enough, 20, "fMP4 fragments")
            assert httpx.patch(f"{base}/api/v1/users/{users['op-disabled'][0]}", headers=chief,
                               json={"disabled": True}).status_code == 200
            assert httpx.post(f"{base}/api/v1/auth/logout", json={
                "refresh_token": users["op-logout"][1]["refresh_token"]}).status_code == 204
            assert httpx.delete(f"{base}/api/v1/api-keys/{key['id']}",
                                headers=chief).status_code == 204
            await until(lambda: all(v.closed for v in views.values()), CUT_OFF_S,
                        "every view ended")
            assert views["op-disabled"].closed == (4403, "the viewer's account was disabled")
            assert views["op-logout"].closed == (4403, "the viewer logged out")
            assert views["key"].closed == (4403, "the API key was deleted or has expired")

        asyncio.run(scenario())
