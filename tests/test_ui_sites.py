"""The Sites & cameras page and a grant's recent uses on the Sharing page, in real Chromium
against the demo city (devkit/fixtures/browser.py): an admin places a site by clicking the
map, adds a camera with a password that never comes back, and the camera is on the wall and
the map; a non-admin has no such page; a grantor's admin sees who used a grant."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from devkit.fixtures.browser import VISIBLE_TEXT, UiPage, catalogue_english
from hub.ui.i18n import load_catalogue

pytestmark = pytest.mark.browser
SITE, CAMERA = "ui-north-gate", "ui-north-gate-1"
PASSWORD = "Gate-Pa55-not-for-eyes"
BUS_GRANT = "ui test: bus video for the police wall"  # seeded: bus shares bus-101-1 with police



def _open_sites(page: Page) -> None:
    page.click("#nav a[data-page='sites']")
    expect(page.locator("#sites-table tbody[data-loaded]")).to_have_count(1)


def _click_map(page: Page, x: int, y: int) -> list[float]:
    """Clicks the form's map at (x, y); the fields' values once they show that point."""
    want = page.evaluate("([x, y]) => { const ll = document.querySelector('.placemap').leafletMap"
                         ".containerPointToLatLng([x, y]); return [ll.lat, ll.lng]; }", [x, y])
    page.click(".placemap", position={"x": x, "y": y})
    lat, lon = page.locator("input[name=lat]"), page.locator("input[name=lon]")
    page.wait_for_function(  # within a few pixels (the map's border)
        "([a, b]) => Math.abs(document.querySelector('input[name=lat]').value - a) < 1e-4"
        " && Math.abs(document.querySelector('input[name=lon]').value - b) < 1e-4", arg=want)
    return [float(lat.input_value()), float(lon.input_value())]


def _add_site_by_map(page: Page) -> list[float]:
    page.click("#site-add")
    expect(page.locator("#site-map[data-ready='true']")).to_be_visible()
    form = page.locator("#site-form")
    form.locator("input[name=id]").fill(SITE)
    form.locator("input[name=name]").fill("North gate (ui test)")
    _click_map(page, 60, 60)
    marker = page.locator("#site-map path.place-marker")
    first = marker.get_attribute("d")
    where = _click_map(page, 200, 150)  # the marker follows the second click
    expect(marker).not_to_have_attribute("d", str(first))
    page.click("#site-save")
    expect(page.locator(f"#sites-table tr.site[data-site='{SITE}']")).to_be_visible()
    return where


def _add_camera(page: Page) -> None:
    page.click(f"#sites-table tr.site[data-site='{SITE}'] button.site-add-camera")
    form = page.locator("#camera-form")
    expect(form.locator("select[name=site]")).to_have_value(SITE)
    expect(page.locator("#camera-secret[data-set='false']")).to_be_visible()
    form.locator("input[name=id]").fill(CAMERA)
    form.locator("input[name=name]").fill("North gate east")
    form.locator("input[name=url]").fill("rtsp://127.0.0.1:9/north-gate")
    form.locator("input[name=username]").fill("viewer")
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("input[name=heading]").fill("45")
    form.locator("input[name=fov]").fill("80")
    form.locator("select[name=recording]").select_option("off")
    page.click("#camera-save")
    row = page.locator(f"#sites-table tr.camera[data-camera='{CAMERA}']")
    expect(row.locator(".badge.gs-active")).to_be_visible()


def test_admin_places_a_site_on_the_map_and_adds_a_camera(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    en = load_catalogue()["en"]
    ui.login("traffic-admin")
    _open_sites(page)
    expect(page.locator("#sites-table tr.camera[data-camera='tr-renmin-1']")).to_be_visible()
    where = _add_site_by_map(page)
    shown = page.inner_text(f"#sites-table tr.site[data-site='{SITE}']")
    assert f"{where[0]:.5f}, {where[1]:.5f}" in shown, shown
    # The same id again: the API's stable code, translated.
    page.click("#site-add")
    page.locator("#site-form input[name=id]").fill(SITE)
    page.locator("#site-form input[name=name]").fill("again")
    page.click("#site-save")
    taken = page.locator("#site-errors li[data-code='site_id_taken']")
    expect(taken).to_have_text(en["error.site_id_taken"])
    _add_camera(page)
    ui.shot("sites-added")
    # Editing: nothing of the login is shown, only that one is stored; the recording policy is.
    page.click(f"#sites-table tr.camera[data-camera='{CAMERA}'] button.camera-edit")
    form = page.locator("#camera-form")
    expect(page.locator("#camera-secret[data-set='true']")).to_have_text(en["sites.camera.secret_set"])
    expect(form.locator("select[name=recording]")).to_have_value("off")
    for name in ("url", "username", "password"):
        expect(form.locator(f"input[name={name}]")).to_have_value("")
    assert PASSWORD not in page.content()
    # A change without a login keeps the stored one.
    form.locator("input[name=name]").fill("North gate east 2")
    page.click("#camera-save")
    row = page.locator(f"#sites-table tr.camera[data-camera='{CAMERA}']")
    expect(row).to_contain_text("North gate east 2")
    expect(row.locator(".badge.gs-active")).to_be_visible()
    # A site with cameras cannot go: the translated conflict.
    page.once("dialog", lambda d: d.accept())
    page.click(f"#sites-table tr.site[data-site='{SITE}'] button.site-delete")
    expect(page.locator("#toast")).to_have_text(en["error.site_in_use"])

    # The camera is on the wall's list and on the map, with its field of view.
    page.click("#nav a[data-page='wall']")
    expect(page.locator(f".cam[data-camera='{CAMERA}']")).to_be_visible()
    page.click("#nav a[data-page='map']")
    expect(page.locator("#map[data-ready='true']")).to_have_count(1)
    page.evaluate("(c) => document.getElementById('map').leafletMap"
                  ".setView(c, 17, {animate: false})", where)
    expect(page.locator(f".cam-marker.cam-{CAMERA}")).to_be_visible()
    expect(page.locator(f"path.fov-{CAMERA}")).to_have_count(1)
    ui.shot("sites-on-map")
    page.wait_for_load_state("networkidle")  # the map's tiles in (they share the connections)

    # Clean-up through the page: the camera, then its site.
    _open_sites(page)
    for button in (f"tr.camera[data-camera='{CAMERA}'] button.camera-delete",
                   f"tr.site[data-site='{SITE}'] button.site-delete"):
        page.once("dialog", lambda d: d.accept())
        page.click(f"#sites-table {button}")
    expect(page.locator(f"#sites-table tr[data-site='{SITE}']")).to_have_count(0)
    assert not ui.errors, ui.errors


def test_a_non_admin_has_no_sites_page(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    ui.login("traffic-operator")
    expect(page.locator("#nav a[data-page='sites']")).to_be_hidden()
    page.goto(f"{ui.city.url}#/sites")  # typed in by hand: the wall instead
    expect(page.locator("#page[data-page='wall'] #wall")).to_be_visible()
    assert page.locator("#sites-table").count() == 0
    assert not ui.errors, ui.errors


def test_sharing_shows_who_used_a_grant(ui_page: UiPage, second_page: UiPage) -> None:
    admin, page = ui_page, ui_page.page
    viewer, wall = second_page, second_page.page
    viewer.login("police-operator")
    wall.dblclick(".cam[data-camera='bus-101-1']")  # through bus's grant
    wall.wait_for_function("document.querySelector(`.tile[data-camera='bus-101-1']`)"
                           "?.dataset.status === 'live'", timeout=40_000)
    admin.login("bus-admin")
    page.click("#nav a[data-page='sharing']")
    row = page.locator(f"#grants-given tr[data-state='active']:has-text('{BUS_GRANT}')")
    row.locator("button.uses-toggle").click()
    use = page.locator("#grants-given tr.uses tr.use[data-camera='bus-101-1']").first
    expect(use).to_contain_text("police-operator")
    en = load_catalogue()["en"]  # the wall asks for live and clips (recorded): either
    expect(use).to_contain_text(re.compile(f"{en['admin.uses.live']}|{en['admin.uses.playback']}"))
    admin.shot("sharing-uses")
    row.locator("button.uses-toggle").click()  # again: closed
    expect(page.locator("#grants-given tr.uses")).to_have_count(0)
    assert not admin.errors and not viewer.errors, (admin.errors, viewer.errors)


def test_the_sites_forms_speak_chinese(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    cat, english = load_catalogue(), catalogue_english()
    ui.login("traffic-admin")
    ui.use_chinese()
    expect(page.locator("#wall")).to_be_visible()  # the wall first: then leave it
    _open_sites(page)
    forms = (("#site-add", "#site-map[data-ready='true']"),
             ("tr.camera[data-camera='tr-renmin-1'] button.camera-edit",
              "#camera-map[data-ready='true']"))
    for opens, ready in forms:
        page.click(f"#page {opens}")
        expect(page.locator(ready)).to_be_visible()
        page.wait_for_load_state("networkidle")
        ui.shot(f"zh-{ready[1:7]}")
        shown = page.evaluate(VISIBLE_TEXT)
        left = sorted({s for s in shown if s in english})
        assert not left, f"English left on the Chinese form: {left}"
        want = "sites.camera.creds_edit_hint" if "camera" in ready else "sites.place.hint"
        assert cat["zh-CN"][want] in shown, shown
    expect(page.locator("#camera-secret")).to_have_text(cat["zh-CN"]["sites.camera.secret_set"])
    assert not ui.errors, ui.errors
