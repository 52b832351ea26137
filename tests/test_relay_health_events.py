"""A camera the hub's relay pulls that fails, and comes back, is an event of its department
(#16/#17: "the transition is an event, as camera health transitions are"), through the same
path as recording alarms; an on-demand camera opening or closing for viewers is not. Real
hub (uvicorn), relay process, synthetic camera killed and started again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit.fixtures.hubapi import HubApi, seed_city, serving
from devkit.fixtures.wait import settle, wait_for
from tests.test_recording_store import segments

KINDS = ["camera_offline", "camera_online"]


@pytest.mark.fault
def test_a_relayed_camera_going_offline_and_back_is_two_events(
    hub_api: HubApi, camera_factory: Any, relay_factory: Any, tmp_path: Path
) -> None:
    seed_city(hub_api, ["police"])
    cams = camera_factory(["api-cam"], mode="loop")
    police = hub_api.headers("police")
    since = datetime.now(UTC) - timedelta(minutes=1)
    with serving(hub_api) as base:
        relay_factory({}, play_secret=hub_api.runtime.play_secret, hub_url=base,
                      camera_sync_s=0.5, backoff_initial_s=0.2, backoff_max_s=1,
                      recording={"paths": [str(tmp_path / "rec")], "segment_s": 1,
                                 "min_free_gb": 0, "fragment_ms": 500})
        made = httpx.post(f"{base}/api/v1/cameras", headers=police, json={
            "id": "api-cam", "name": "Gate", "site": "police-s1", "system": "safecity",
            "url": cams.url("api-cam")})
        assert made.status_code == 201, made.text
        put = httpx.put(f"{base}/api/v1/cameras/api-cam/recording", headers=police,
                        json={"mode": "continuous"})  # pulled with no viewer
        assert put.status_code == 200, put.text
        wait_for(lambda: segments(tmp_path / "rec", "api-cam"), 30, "recording")

        def events() -> list[dict[str, Any]]:
            r = httpx.get(f"{base}/api/v1/events", headers=police, params={
                "start": since.isoformat(), "end": (since + timedelta(hours=1)).isoformat(),
                "kinds": KINDS})
            assert r.status_code == 200, r.text
            return sorted(r.json()["items"], key=lambda e: e["occurred_at"])

        assert events() == []  # opening the camera for the recorder is not news
        cams.kill()
        (offline,) = wait_for(events, 30, "the offline event")
        cams.start()
        offline, online = settle(events, lambda found: len(found) == 2, 30)  # the online event
    assert [offline["kind"], online["kind"]] == KINDS
    assert offline["camera"] == online["camera"] == "api-cam"
    assert offline["department"] == "police" and offline["site"] == "police-s1"
    assert (offline["severity"], online["severity"]) == (2, 0)
    assert offline["attributes"]["message"].startswith("api-cam: ")
