"""A relay killed under its viewers pulls again, as it starts, the streams they watched
(streams/resume.py), so their players find the camera live; a stream nobody comes back to
closes once the hold ends. Real relay process, real synthetic cameras, real RTSP readers."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from devkit.fixtures.streams import GstReader
from devkit.fixtures.wait import settle
from streams.core.stream import CameraStream
from streams.resume import ResumedPulls, resume_file


def _watched(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


@pytest.mark.fault
def test_a_killed_relay_pulls_the_watched_camera_as_it_starts(camera_factory, relay_factory,
                                                              tmp_path: Path) -> None:
    cam = camera_factory(["cam1", "cam2"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1"), "cam2": cam.url("cam2")},
                          idle_close_s=1, resume_hold_s=3)
    state = tmp_path / "relay0" / "state"  # the relay's state_dir
    saved = resume_file(state)
    reader = GstReader(relay.rtsp_url("cam1")).start()
    try:
        assert reader.wait_frames(5) >= 5, reader.errors
        watched = settle(lambda: _watched(saved), lambda w: w.get("main") == ["cam1"], 15)
        assert watched == {"main": ["cam1"], "sub": []}, watched
        relay.proc.send_signal(signal.SIGKILL)
        relay.proc.wait(10)
    finally:
        reader.stop()
    relay.log.write_text("")  # start() waits for this run's "relay: ready"
    relay.start()  # no viewer yet: cam1 is pulled ahead, cam2 (not watched) is not
    live = relay.wait_state("cam1", "live", 15)
    assert live["state"] == "live" and live["leases"] == 1, live
    assert relay.health("cam2")["state"] == "idle"
    assert "resume: pulling 1 streams watched before the restart" in relay.log.read_text()
    # Nobody came back: the hold ends and the idle timer closes it.
    assert relay.wait_state("cam1", "idle", 20)["state"] == "idle"
    assert settle(lambda: _watched(saved), lambda w: w.get("main") == [], 15)["main"] == []


def test_a_torn_or_foreign_file_means_a_cold_start(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)  # a state directory others must still reach (the demo's PostgreSQL)
    path = resume_file(tmp_path)
    streams: dict[str, dict[str, CameraStream]] = {"main": {}, "sub": {}}
    pulls = ResumedPulls(path, lambda: streams, hold_s=15)

    async def resume() -> int:
        return pulls.resume()

    assert asyncio.run(resume()) == 0  # no file yet
    path.parent.mkdir()
    for text in ('{"main": ["cam', '["cam1"]', '{"main": "cam1"}', '{"main": [1, null]}'):
        path.write_text(text)
        assert asyncio.run(resume()) == 0, text
    pulls.save()
    assert json.loads(path.read_text()) == {"main": [], "sub": []}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(tmp_path.stat().st_mode & 0o777) == "0o755"  # only its own directory is private
