"""An H.265 camera on the wall in headless Chromium (#16), which has no HEVC decoder: the
player learns the codec from the relay and asks for the ``h264`` profile (the relay's
on-demand transcode); the video advances. Its own module (its own demo city): the camera
is added through the hub's API, so the other UI tests' city stays as it was."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core.net import free_port
from devkit.fixtures.browser import ROOT, UiCity, UiPage
from devkit.fixtures.wait import settle

pytestmark = pytest.mark.browser
CAMERA = "cm-hevc-1"

ADD_JS = """async ([user, password, camera, url]) => {
    const form = new URLSearchParams({username: user, password});
    const login = await (await fetch('/api/v1/auth/token', {method: 'POST', body: form})).json();
    const h = {Authorization: 'Bearer ' + login.access_token, 'Content-Type': 'application/json'};
    const r = await fetch('/api/v1/cameras', {method: 'POST', headers: h, body: JSON.stringify({
        id: camera, name: 'Riverside HEVC', site: 'river-park', system: 'citymgmt', url})});
    return r.status; }"""
TILE_JS = """e => ({status: e.dataset.status, why: e.querySelector('.state').title,
    profile: e.querySelector('video').dataset.profile,
    transport: e.querySelector('video').dataset.transport || null,
    frames: Number(e.querySelector('video').dataset.frames || 0)})"""
HEVC_MIME = 'video/mp4; codecs="hvc1.1.6.L93.B0"'


@pytest.fixture
def hevc_camera(ui_world: UiCity) -> Iterator[str]:
    """A synthetic H.265 camera (640x360, 15 fps, 1 s GOP) inside the city's namespace."""
    port = free_port()
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ui_world.netns, sys.executable, "-m", "devkit.synthetic",
         "--port", str(port), "--cameras", "hevc", "--codec", "h265", "--mode", "loop",
         "--width", "640", "--height", "360", "--fps", "15", "--gop", "15", "--bitrate", "800"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"rtsp://127.0.0.1:{port}/hevc"
    finally:
        proc.terminate()
        proc.wait(10)


def _tile(ui: UiPage, pred: Callable[[dict[str, Any]], bool], timeout: float = 60
          ) -> dict[str, Any]:
    return settle(lambda: ui.page.eval_on_selector(f".tile[data-camera='{CAMERA}']", TILE_JS),
                  pred, timeout, step=0.25)


def test_an_h265_camera_plays_on_the_wall(ui_page: UiPage, hevc_camera: str) -> None:
    ui, page = ui_page, ui_page.page
    ui.login("citymgmt-operator")
    added = page.evaluate(ADD_JS, ["citymgmt-admin", ui.city.logins["citymgmt-admin"], CAMERA,
                                   hevc_camera])
    assert added == 201, added
    page.reload()
    page.wait_for_selector(f".cam[data-camera='{CAMERA}']")
    page.dblclick(f".cam[data-camera='{CAMERA}']")
    # The relay pulls the stored camera within camera_sync_s; the player retries meanwhile.
    live = _tile(ui, lambda s: s["status"] == "live" and s["frames"] > 5)
    assert live["status"] == "live", live
    if page.evaluate(f"MediaSource.isTypeSupported({HEVC_MIME!r})"):  # a browser with HEVC
        assert live["profile"] == "main" and live["transport"] == "fmp4", live
    else:  # headless Chromium: the relay's H.264 transcode, over WebRTC
        assert live["profile"] == "h264" and live["transport"] == "webrtc", live
        assert "H.264 transcode" in live["why"], live
    later = _tile(ui, lambda s: s["frames"] > live["frames"] + 20)
    assert later["frames"] > live["frames"] + 20, (live, later)  # the video keeps advancing
    ui.shot("hevc-wall")
    assert not ui.errors, ui.errors
