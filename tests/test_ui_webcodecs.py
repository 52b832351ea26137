"""The wall player's decode steps (#16) in headless Chromium: MSE passthrough, WebCodecs on a
canvas, the relay's H.264 transcode. This Chromium's WebCodecs decodes H.264 but not HEVC,
so the WebCodecs demux/render is proven on an H.264 camera forced to it (``?decoder=
webcodecs``), and an H.265 camera is shown falling through both to the transcode, with the
reasons on the tile. Its own module (its own demo city): a camera is added through the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from devkit.fixtures.browser import UiPage, add_camera
from devkit.fixtures.picture import flat_picture, png_data_url_to_rgb
from devkit.fixtures.wait import settle
from tests.test_ui_hevc import HEVC_MIME

pytestmark = pytest.mark.browser
H264_CAMERA = "tr-renmin-1"  # a demo camera (H.264) the traffic operator sees
HEVC_CAMERA = "cm-hevc-wc"

TILE_JS = """e => {
    const v = e.querySelector('video'), c = e.querySelector('canvas.webcodecs');
    const badge = e.querySelector('.decode');
    return {status: e.dataset.status, why: e.querySelector('.state').title,
        decoder: v.dataset.decoder || null, profile: v.dataset.profile,
        transport: v.dataset.transport || null, fallbacks: v.dataset.fallbacks || '',
        frames: Number(v.dataset.frames || 0), videoHidden: v.hidden,
        painted: c ? Number(c.dataset.painted || 0) : null,
        decoded: c ? Number(c.dataset.decoded || 0) : null,
        dropped: c ? Number(c.dataset.dropped || 0) : null,
        badge: badge && !badge.hidden ? badge.textContent : null,
        badgeTitle: badge ? badge.title : ''}; }"""
CANVAS_PNG_JS = "c => c.width && c.height ? c.toDataURL('image/png') : null"
HEVC_WEBCODECS_JS = """async () => typeof VideoDecoder !== 'undefined' &&
    (await VideoDecoder.isConfigSupported({codec: 'hvc1.1.6.L93.B0'})).supported"""


def _tile(ui: UiPage, camera: str, pred: Callable[[dict[str, Any]], bool], timeout: float = 60
          ) -> dict[str, Any]:
    return settle(lambda: ui.page.eval_on_selector(f".tile[data-camera='{camera}']", TILE_JS),
                  pred, timeout, step=0.25)


def _open(ui: UiPage, camera: str, query: str = "") -> list[str]:
    """The wall at `?query`, the camera double-clicked onto it; the console's lines."""
    page = ui.page
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.goto(ui.city.url.split("#")[0] + query)
    page.wait_for_selector(f".cam[data-camera='{camera}']")
    page.dblclick(f".cam[data-camera='{camera}']")
    return console


def test_webcodecs_paints_an_h264_camera_on_a_canvas(ui_page: UiPage) -> None:
    """Forced to WebCodecs, the tile demuxes the relay's fMP4 and paints decoded frames on a
    canvas at the camera's rate; the <video> stays hidden and the badge names the path."""
    ui = ui_page
    ui.login("traffic-operator")
    console = _open(ui, H264_CAMERA, "?decoder=webcodecs")
    live = _tile(ui, H264_CAMERA, lambda s: s["status"] == "live" and s["frames"] > 5)
    assert live["status"] == "live" and live["decoder"] == "webcodecs", (live, console)
    assert live["transport"] == "fmp4" and live["videoHidden"], (live, console)
    assert live["badge"] == "WebCodecs" and "WebCodecs" in live["why"], live
    assert live["painted"] > 0 and live["decoded"] >= live["painted"], (live, console)
    later = _tile(ui, H264_CAMERA, lambda s: s["painted"] > live["painted"] + 30)
    assert later["painted"] > live["painted"] + 30, (live, later)  # the picture keeps moving
    assert later["decoded"] >= later["painted"], later
    picture = png_data_url_to_rgb(ui.page.eval_on_selector(
        f".tile[data-camera='{H264_CAMERA}'] canvas.webcodecs", CANVAS_PNG_JS))
    assert picture.shape[0] >= 240 and not flat_picture(picture), picture.shape
    ui.shot("webcodecs-h264")
    assert not ui.errors, ui.errors


def test_an_h265_camera_falls_through_to_the_decoder_this_browser_has(
        ui_page: UiPage, hevc_camera: str) -> None:
    """No HEVC in MSE nor in WebCodecs (this Chromium): the transcode plays, and the tile
    says why MSE and WebCodecs were left; a browser with either plays that instead."""
    ui, page = ui_page, ui_page.page
    ui.login("citymgmt-operator")
    added = add_camera(ui, HEVC_CAMERA, "Riverside HEVC (WebCodecs)", hevc_camera)
    assert added == 201, added
    console = _open(ui, HEVC_CAMERA)
    live = _tile(ui, HEVC_CAMERA, lambda s: s["status"] == "live" and s["frames"] > 5)
    assert live["status"] == "live", live
    if page.evaluate(f"MediaSource.isTypeSupported({HEVC_MIME!r})"):
        assert live["decoder"] == "native" and live["badge"] == "H.265 passthrough", live
    elif page.evaluate(HEVC_WEBCODECS_JS):
        assert live["decoder"] == "webcodecs" and live["fallbacks"].startswith("MSE: "), live
    else:
        assert live["decoder"] == "transcode" and live["profile"] == "h264", live
        assert live["badge"] == "H.264 transcode" and live["painted"] is None, live
        reasons = live["fallbacks"].split(" | ")
        assert reasons[0].startswith("MSE: no HEVC (MediaSource.isTypeSupported"), reasons
        assert reasons[1].startswith("webcodecs: WebCodecs cannot decode hvc1."), reasons
        assert "isConfigSupported" in reasons[1] and reasons[1] in live["badgeTitle"], reasons
        logged = [line for line in console if line.startswith(f"cityhub player {HEVC_CAMERA}:")]
        assert [line.rsplit("; ", 1)[1] for line in logged] == [
            "trying webcodecs", "trying transcode"], console  # the reasons are logged
    later = _tile(ui, HEVC_CAMERA, lambda s: s["frames"] > live["frames"] + 20)
    assert later["frames"] > live["frames"] + 20, (live, later)  # the video keeps advancing
    ui.shot("hevc-fallthrough")
    assert not ui.errors, ui.errors
