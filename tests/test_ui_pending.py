"""A field engineer's new camera, in real Chromium against the demo city (#18): the police
admin probes the ONVIF dome's address, accepts it as a new camera with its login (checked
against the camera, sealed), the relay pulls it from the store, and an operator plays it
on the wall. The camera is removed again afterwards."""

from __future__ import annotations

import pytest

from devkit.fixtures.browser import UiPage

pytestmark = pytest.mark.browser
NEW = "sc-dome-2"
DELETE_JS = """async (cam) => {
    const t = JSON.parse(sessionStorage.getItem('cityhub.tokens')).access_token;
    return (await fetch('/api/v1/cameras/' + cam, {method: 'DELETE',
        headers: {Authorization: 'Bearer ' + t}})).status; }"""


def test_an_admin_probes_and_accepts_a_camera_that_then_plays(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    port, password = ui.city.dome()
    ui.login("police-admin")
    page.click("#nav a[data-page='pending-cameras']")
    page.click("#pending-probe")
    for name, value in (("address", "127.0.0.1"), ("port", str(port)),
                        ("username", "admin"), ("password", password)):
        page.fill(f"#probe-form input[name='{name}']", value)
    page.click("#probe-form button[type='submit']")
    page.wait_for_selector("#probe-form li:has-text('640×360')")
    row = "#pending-table tr[data-host='127.0.0.1'][data-state='pending']"
    page.click(f"{row} button[data-action='accept']")
    for name, value in (("id", NEW), ("name", "Xinhua dome (new)"), ("site", "xinhua-5th"),
                        ("username", "admin"), ("password", "wrong-password")):
        page.fill(f"#accept-form input[name='{name}']", value)
    page.click("#accept-form button[type='submit']")
    page.wait_for_selector("#accept-form .formerrors li")  # the camera refused the login
    page.fill("#accept-form input[name='password']", password)
    page.click("#accept-form button[type='submit']")
    page.wait_for_selector("#accept-form", state="detached")
    ui.shot("pending-accepted")
    try:
        page.click("#logout")
        ui.login("police-operator")
        page.wait_for_selector(f".cam[data-camera='{NEW}']")
        page.dblclick(f".cam[data-camera='{NEW}']")
        page.wait_for_function(  # the relay pulled it from the store within its sync
            f"Number((document.querySelector(\".tile[data-camera='{NEW}'] video\") || "
            "{dataset: {}}).dataset.frames || 0) > 5", timeout=60000)
        assert not ui.errors, ui.errors
    finally:
        page.click("#logout")
        ui.login("police-admin")
        assert page.evaluate(DELETE_JS, NEW) == 204
