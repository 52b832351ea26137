"""An H.265 camera on the wall in headless Chromium (#16), which has no HEVC decoder: the
player learns the codec from the relay and asks for the ``h264`` profile (the relay's
on-demand transcode); the video advances. Its own module (its own demo city): the camera
is added through the hub's API, so the other UI tests' city stays as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from devkit.fixtures.browser import UiPage, add_camera
from devkit.fixtures.wait import settle

pytestmark = pytest.mark.browser
CAMERA = "cm-hevc-1"

TILE_JS = """e => ({status: e.dataset.status, why: e.querySelector('.state').title,
    profile: e.querySelector('video').dataset.profile,
    transport: e.querySelector('video').dataset.transport || null,
    frames: Number(e.querySelector('video').dataset.frames || 0)})"""
HEVC_MIME = 'video/mp4; codecs="hvc1.1.6.L93.B0"'


def _tile(ui: UiPage, pred: Callable[[dict[str, Any]], bool], timeout: float = 60
          ) -> dict[str, Any]:
    return settle(lambda: ui.page.eval_on_selector(f".tile[data-camera='{CAMERA}']", TILE_JS),
                  pred, timeout, step=0.25)


def test_an_h265_camera_plays_on_the_wall(ui_page: UiPage, hevc_camera: str) -> None:
    ui, page = ui_page, ui_page.page
    ui.login("citymgmt-operator")
    added = add_camera(ui, CAMERA, "Riverside HEVC", hevc_camera)
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
