"""Cameras in the hub's store are pulled by the relay (#18, #16): one added through the API
plays over RTSP within a sync, a changed one is pulled again with its new URL, a removed one
is dropped; the config's cameras are never touched. Real hub (uvicorn), relay process,
synthetic cameras."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from devkit.fixtures.hubapi import HubApi, seed_city, serving
from devkit.fixtures.streams import RELAY_CORES, GstReader
from devkit.fixtures.wait import wait_for
from streams.auth.service import derive_service_token


@pytest.mark.fault
@RELAY_CORES
def test_the_relay_pulls_cameras_added_changed_and_removed_in_the_store(
    hub_api: HubApi, camera_factory: Any, relay_factory: Any
) -> None:
    seed_city(hub_api, ["police"])
    cams = camera_factory(["api-cam", "api-cam-b", "cfg-cam"], mode="loop")
    police = hub_api.headers("police")
    with serving(hub_api) as base:
        relay = relay_factory({"cfg-cam": cams.url("cfg-cam")},
                              play_secret=hub_api.runtime.play_secret, hub_url=base,
                              camera_sync_s=0.5)
        service = {"Authorization": "Bearer " + derive_service_token(hub_api.runtime.play_secret)}

        def pulled() -> set[str]:
            health = httpx.get(f"{relay.http}/health", headers=service, timeout=10).json()
            return {c["camera_id"] for c in health["cameras"]}

        assert httpx.get(f"{base}/api/v1/streams/cameras").status_code == 401  # secrets inside
        made = httpx.post(f"{base}/api/v1/cameras", headers=police, json={
            "id": "api-cam", "name": "Added by API", "site": "police-s0", "system": "safecity",
            "url": cams.url("api-cam")})
        assert made.status_code == 201, made.text
        wait_for(lambda: "api-cam" in pulled(), 15, "the relay pulls the new camera")
        token = httpx.post(f"{base}/api/v1/cameras/api-cam/play", headers=police,
                           json={"protocols": ["rtsp"]}).json()["token"]
        reader = GstReader(f"rtsp://127.0.0.1:{relay.rtsp_port}/api-cam?token={token}").start()
        try:
            assert reader.wait_frames(10) >= 10, reader.errors
        finally:
            reader.stop()
        changed = httpx.patch(f"{base}/api/v1/cameras/api-cam", headers=police,
                              json={"url": cams.url("api-cam-b")})
        assert changed.status_code == 200, changed.text
        wait_for(lambda: "re-pulled" in _log_since(relay, "camera api-cam added", 2), 15,
             "the relay pulls the changed camera again")
        assert httpx.delete(f"{base}/api/v1/cameras/api-cam", headers=police).status_code == 204
        wait_for(lambda: "api-cam" not in pulled(), 15, "the relay drops the removed camera")
        assert "cfg-cam" in pulled()


def _log_since(relay: Any, line: str, times: int) -> str:
    """'re-pulled' once the relay's log shows ``line`` ``times`` times (added, then again)."""
    return "re-pulled" if relay.log.read_text().count(line) >= times else ""
