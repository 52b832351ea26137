"""GB/T 28181 in the control room, in real Chromium against the demo city: a channel of city
management's NVR (registered over SIP, PS over RTP into the relay) plays on the wall; a
police admin sees the province platform registered, with the department's share, in both
languages, and an operator does not get the page."""

from __future__ import annotations

import time

import pytest

from devkit.demo.gb28181 import CHANNEL_IDS, SHARED_CHANNEL, UPPER_ID
from devkit.fixtures.browser import UiPage
from tests.test_ui_browser import _wait_tile
from tests.test_ui_recording import plays_recording_near

pytestmark = pytest.mark.browser


def test_a_gb28181_channel_plays_on_the_wall(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    ui.login("citymgmt-operator")
    camera = CHANNEL_IDS[0]
    page.wait_for_selector(f".cam[data-camera='{camera}']")
    page.dblclick(f".cam[data-camera='{camera}']")
    live = _wait_tile(page, camera, lambda s: s["status"] == "live" and s["frames"] > 10, 60)
    assert live["status"] == "live" and live["frames"] > 10, live
    ui.shot("gb28181-channel-live")
    assert not ui.errors, ui.errors


def test_an_admin_sees_the_upper_platform_and_the_departments_share(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    ui.login("police-admin")
    page.click("#nav a[data-page='cascade']")
    row = f"#cascade-table tr[data-id='{UPPER_ID}'][data-registered='true']"
    page.wait_for_selector(row)
    text = page.inner_text(row)
    assert "registered" in text and "1 of 1" in text, text
    assert page.inner_text(f"{row} td.shared") == "1"
    page.click(row)
    share = "#cascade-shares tr[data-camera='sc-xinhua-1'][data-active='true']"
    page.wait_for_selector(share)
    assert SHARED_CHANNEL in page.inner_text(share) and "allowed" in page.inner_text(share)
    ui.shot("en-cascade")
    ui.use_chinese()
    page.goto(f"{ui.city.url}#/cascade")
    page.wait_for_selector(row)
    assert "已注册" in page.inner_text(row) and "上级平台" in page.inner_text("#nav")
    page.click(row)
    page.wait_for_selector(share)
    assert "允许" in page.inner_text(share)
    ui.shot("zh-cascade")
    page.select_option("#language", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert not ui.errors, ui.errors
    # An operator has no such page: the nav entry stays hidden and the API says 403.
    page.click("#logout")
    ui.login("police-operator")
    assert page.locator("#nav a[data-page='cascade']").is_hidden()
    status = page.evaluate("""async () => {
        const t = JSON.parse(sessionStorage.getItem('cityhub.tokens')).access_token;
        return (await fetch('/api/v1/gb28181/uppers',
                            {headers: {Authorization: 'Bearer ' + t}})).status; }""")
    assert status == 403


def test_a_gb28181_channels_device_recording_plays_on_its_timeline(ui_page: UiPage) -> None:
    """The channel is not recorded by the relay: its timeline shows what the NVR keeps
    (blue) and a click plays it through the relay's device playback; in both languages."""
    ui, page = ui_page, ui_page.page
    ui.login("citymgmt-operator")
    camera = CHANNEL_IDS[0]
    tile = f".tile[data-camera='{camera}']"
    page.wait_for_selector(f".cam[data-camera='{camera}']")
    page.dblclick(f".cam[data-camera='{camera}']")
    page.wait_for_selector(f"{tile}[data-status='live']", timeout=60000)
    page.hover(tile)
    page.click(f"{tile} button[data-action='timeline']")
    # The NVR keeps (now - 3000, now - 600): on the hour's timeline, from 1/6 to 5/6.
    page.wait_for_selector(f"{tile} .rectimeline[data-source='device'] .tl-rec.tl-device",
                           timeout=60000)
    assert page.inner_text(f"{tile} .tl-msg") == "Recordings kept on the device (NVR)"
    box = page.locator(f"{tile} .tl-track").bounding_box()
    assert box
    target = time.time() - 1800
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    plays_recording_near(ui, tile, target)
    ui.shot("en-device-timeline")
    page.click(f"{tile} .tl-live")
    page.wait_for_selector(f"{tile}[data-status='live']", timeout=40000)
    ui.use_chinese()
    page.wait_for_selector(f"{tile}[data-status='live']", timeout=60000)
    page.hover(tile)
    page.click(f"{tile} button[data-action='timeline']")
    page.wait_for_selector(f"{tile} .tl-rec.tl-device", timeout=60000)
    assert page.inner_text(f"{tile} .tl-msg") == "设备（NVR）上的录像"
    ui.shot("zh-device-timeline")
    assert not ui.errors, ui.errors
