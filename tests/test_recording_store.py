"""Recording follows the hub's store (#17): a camera added through the API and given a
recording policy through the API is recorded by a relay already running, pulled with no
viewer; a changed policy (off) stops it and lets the camera go. Real hub (uvicorn), relay
process, synthetic camera."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit.fixtures.hubapi import HubApi, seed_city, serving
from devkit.fixtures.wait import settle, wait_for
from streams.auth.service import derive_service_token
from streams.recording.journal import read_lines


def segments(root: Path, camera: str) -> list[dict[str, Any]]:
    index = root / camera / "index.jsonl"
    return [x for x in read_lines(index) if x["kind"] == "segment"] if index.exists() else []


@pytest.mark.fault
def test_policies_set_through_the_api_take_effect_on_a_running_relay(
    hub_api: HubApi, camera_factory: Any, relay_factory: Any, tmp_path: Path
) -> None:
    seed_city(hub_api, ["police", "traffic"])
    cams = camera_factory(["api-cam", "api-cam-b"], mode="loop")
    police = hub_api.headers("police")
    root = tmp_path / "rec"
    with serving(hub_api) as base:
        relay = relay_factory({}, play_secret=hub_api.runtime.play_secret, hub_url=base,
                              camera_sync_s=0.5, idle_close_s=0.5,
                              recording={"paths": [str(root)], "segment_s": 1,
                                         "fragment_ms": 500})
        service = {"Authorization": "Bearer " + derive_service_token(hub_api.runtime.play_secret)}

        def health() -> dict[str, Any]:
            cams = httpx.get(f"{relay.http}/health", headers=service, timeout=10).json()["cameras"]
            return {c["camera_id"]: c for c in cams}

        def recorded() -> dict[str, Any]:
            state = httpx.get(f"{relay.http}/recordings", headers=service, timeout=10).json()
            return dict(state["cameras"].get("api-cam") or {})

        made = httpx.post(f"{base}/api/v1/cameras", headers=police, json={
            "id": "api-cam", "name": "Added by API", "site": "police-s0", "system": "safecity",
            "url": cams.url("api-cam")})
        assert made.status_code == 201, made.text
        wait_for(lambda: "api-cam" in health(), 15, "the relay pulls the new camera")
        assert health()["api-cam"]["state"] == "idle"  # no viewer, no policy: not connected
        url = f"{base}/api/v1/cameras/api-cam/recording"
        assert httpx.get(url, headers=police).json() == {"camera": "api-cam", "policy": None}

        bad = httpx.put(url, headers=police, json={"mode": "schedule"})
        assert bad.status_code == 422 and "window" in bad.text
        other = httpx.put(url, headers=hub_api.headers("traffic"), json={"mode": "continuous"})
        assert other.status_code == 404  # only the owning department sets the policy

        put = httpx.put(url, headers=police, json={"mode": "continuous"})
        assert put.status_code == 200, put.text
        assert httpx.get(url, headers=police).json()["policy"]["mode"] == "continuous"
        # Recorded with no viewer at all: pulled, segments on disk, state says so.
        wait_for(lambda: len(segments(root, "api-cam")) >= 2, 30, "segments of the API camera")
        assert health()["api-cam"]["state"] == "live"
        assert recorded()["mode"] == "continuous" and recorded()["recording"] is True

        # A changed URL pulls the camera again: the recording goes on on the new upstream.
        n = len(segments(root, "api-cam"))
        changed = httpx.patch(f"{base}/api/v1/cameras/api-cam", headers=police,
                              json={"url": cams.url("api-cam-b")})
        assert changed.status_code == 200, changed.text
        wait_for(lambda: relay.log.read_text().count("camera api-cam added") >= 2, 15, "re-pulled")
        pulled_again = time.time()
        wait_for(lambda: len([s for s in segments(root, "api-cam") if s["start"] > pulled_again])
             >= 2, 30, "segments of the new upstream")
        assert len(segments(root, "api-cam")) >= n + 2

        assert httpx.put(url, headers=police, json={"mode": "off"}).status_code == 200
        wait_for(lambda: recorded().get("mode") == "off" and not recorded()["recording"], 15,
             "recording stops with the policy")
        wait_for(lambda: health()["api-cam"]["state"] == "idle", 15,
             "the camera is let go once nothing records it")
        assert all(Path(s["file"]).exists() for s in segments(root, "api-cam"))

        with hub_api.owner() as conn:
            audit = conn.execute(
                "SELECT count(*) FROM audit_log WHERE action = 'camera.recording'"
                " AND target_id = 'api-cam'").fetchone()
        assert audit is not None and audit[0] == 2


@pytest.mark.fault
def test_a_recording_that_stops_is_an_alarm_event_in_the_hub(
    hub_api: HubApi, camera_factory: Any, relay_factory: Any, tmp_path: Path
) -> None:
    """The only storage path goes away: the relay raises ``storage_unavailable`` (the path)
    and ``recording_stopped`` (the camera); both become events of the camera's department
    through the hub, as other alarms are, once each."""
    seed_city(hub_api, ["police"])
    cams = camera_factory(["api-cam"], mode="loop")
    police = hub_api.headers("police")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], check=True)
    try:
        with serving(hub_api) as base:
            relay = relay_factory({}, play_secret=hub_api.runtime.play_secret, hub_url=base,
                                  camera_sync_s=0.5,
                                  recording={"paths": [str(disk)], "segment_s": 1,
                                             "min_free_gb": 0, "fragment_ms": 500})
            made = httpx.post(f"{base}/api/v1/cameras", headers=police, json={
                "id": "api-cam", "name": "Recorded", "site": "police-s1", "system": "safecity",
                "url": cams.url("api-cam")})
            assert made.status_code == 201, made.text
            put = httpx.put(f"{base}/api/v1/cameras/api-cam/recording", headers=police,
                            json={"mode": "continuous"})
            assert put.status_code == 200, put.text
            wait_for(lambda: segments(disk, "api-cam"), 30, "a first segment")
            subprocess.run(["umount", "-l", str(disk)], check=True)
            since = datetime.now(UTC) - timedelta(minutes=1)

            def alarms() -> dict[str, list[dict[str, Any]]]:
                r = httpx.get(f"{base}/api/v1/events", headers=police, params={
                    "start": since.isoformat(), "end": (since + timedelta(hours=1)).isoformat(),
                    "kinds": ["recording_stopped", "storage_unavailable"]})
                assert r.status_code == 200, r.text
                out: dict[str, list[dict[str, Any]]] = {}
                for e in r.json()["items"]:
                    out.setdefault(e["kind"], []).append(e)
                return out

            found = settle(alarms, lambda a: len(a) == 2, 20)
            assert len(found) == 2, f"both alarms as events: {found}"
            (stopped,) = found["recording_stopped"]
            assert stopped["camera"] == "api-cam" and stopped["site"] == "police-s1"
            assert stopped["department"] == "police" and stopped["severity"] == 2
            assert stopped["source_system"] == "hub"
            assert "no storage path" in stopped["attributes"]["message"]
            (gone,) = found["storage_unavailable"]
            assert gone["camera"] is None and gone["attributes"]["cameras"] == ["api-cam"]
            assert gone["attributes"]["path"] == str(disk)
            service = {"Authorization": "Bearer "
                       + derive_service_token(hub_api.runtime.play_secret)}
            metrics = httpx.get(f"{relay.http}/metrics", headers=service, timeout=10).text
            assert 'cityhub_recording_alarms_total{kind="recording_stopped"}' in metrics
            assert f'cityhub_recording_path_usable{{path="{disk}"}} 0.0' in metrics
            assert 'cityhub_recording_wanted{camera="api-cam"} 1.0' in metrics
            assert 'cityhub_recording_active{camera="api-cam"} 0.0' in metrics
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False, capture_output=True)
