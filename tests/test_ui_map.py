"""The map and the wall's habits in real Chromium against the demo city, offline: the
namespace has only loopback, so the district's base layer can only come from the demo's own
tile server through the hub (devkit.basemap, hub/ui/basemap.py). Camera cones, clusters when
zoomed out, wall keys, and the wall coming back on another workstation."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page

from devkit.fixtures.browser import UiCity, UiPage, ui_context

pytestmark = pytest.mark.browser
XINHUA = [30.6586, 104.0648]
#: Whether the base map's tiles at the map's zoom are all in: at least `n`, each a loaded
#: image of 256 px (Leaflet marks them), none still waiting.
TILES_JS = """(n) => {
    const levels = [...document.querySelectorAll('.basemap .leaflet-tile-container')];
    const top = Math.max(...levels.map(c => Number(c.style.zIndex)));  // the current zoom's
    const imgs = [...(levels.find(c => Number(c.style.zIndex) === top) || document)
        .querySelectorAll('img')];
    return imgs.length >= n && imgs.every(i => i.classList.contains('leaflet-tile-loaded')
        && i.naturalWidth === 256); }"""


def _zoom(page: Page, centre: list[float], zoom: int) -> None:
    page.evaluate("([c, z]) => document.getElementById('map').leafletMap.setView(c, z,"
                  " {animate: false})", [centre, zoom])


def _open_map(page: Page) -> None:
    page.click("#nav a[data-page='map']")
    page.wait_for_selector("#map[data-ready='true']")


def test_the_map_shows_the_district_offline_with_cones_and_clusters(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    ui.login("police-operator")
    _open_map(page)
    _zoom(page, XINHUA, 17)
    page.wait_for_function(TILES_JS, arg=6)
    # Every tile came from the hub (its origin, its tile route); nothing else was asked.
    hub = urlsplit(ui.city.url).netloc
    tiles = [u for u in asked if "/map/tiles/" in u]
    route = "/api/v1/map/tiles/"
    assert tiles and all(urlsplit(u).netloc == hub and urlsplit(u).path.startswith(route)
                         for u in tiles), tiles
    assert any("/map/tiles/17/" in u for u in tiles), tiles
    fetched = [u for u in asked if urlsplit(u).scheme in ("http", "https", "ws", "wss")]
    assert fetched and all(urlsplit(u).hostname == "127.0.0.1" for u in fetched), fetched
    # The tiles show the district: streets and blocks, not one flat colour.
    colours = page.evaluate("""() => {
        const img = document.querySelector('.basemap img.leaflet-tile-loaded');
        const c = document.createElement('canvas'); c.width = c.height = 256;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, 256, 256).data, seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
        return seen.size; }""")
    assert colours > 3, colours
    # Cameras whose heading is known show their field of view; the PTZ dome (none) a dot only.
    for cam in ("sc-xinhua-1", "sc-xinhua-2"):
        page.wait_for_selector(f"path.fov-{cam}")
    assert page.locator("path.fov-sc-dome-1").count() == 0
    page.wait_for_selector(".cam-marker.cam-sc-dome-1")
    ui.shot("en-map-street")
    # Zoomed out, nearby cameras and sensors become clusters and the cones go.
    _zoom(page, XINHUA, 13)
    page.wait_for_selector(".marker-cluster")
    page.wait_for_selector("path.fov-sc-xinhua-1", state="detached")
    page.wait_for_selector(".cam-marker.cam-sc-xinhua-1", state="detached")  # in a cluster
    count = page.inner_text(".marker-cluster >> nth=0")
    assert count.strip().isdigit() and int(count) >= 2, count
    page.wait_for_function(TILES_JS, arg=4)
    ui.shot("en-map-district")
    assert not ui.errors, ui.errors


@pytest.fixture
def other_workstation(chromium_browser: Browser, ui_world: UiCity,
                      request: pytest.FixtureRequest) -> Iterator[UiPage]:
    with ui_context(chromium_browser, ui_world, f"{request.node.name}-other",
                    viewport={"width": 1600, "height": 900}) as ui:
        yield ui


def _cameras_on_wall(page: Page) -> list[str]:
    return list(page.eval_on_selector_all(".tile", "els => els.map(e => e.dataset.camera)"))


def test_wall_keys_and_the_wall_comes_back_on_another_workstation(
        ui_page: UiPage, other_workstation: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    ui.login("traffic-operator")
    page.click("button[data-preset='4']")
    page.dblclick(".cam[data-camera='tr-renmin-1']")
    page.wait_for_selector(".tile[data-index='0'][data-camera='tr-renmin-1']")
    assert page.is_visible("#wall-keys")
    # Digits pick a tile, F shows it full screen, Esc comes back, then drops the pick.
    page.keyboard.press("2")
    page.wait_for_selector(".tile[data-index='1'].picked")
    page.keyboard.press("1")
    page.wait_for_selector(".tile[data-index='0'].picked")
    assert page.locator(".tile.picked").count() == 1
    page.keyboard.press("f")
    page.wait_for_function("document.fullscreenElement?.dataset.index === '0'"
                           " || !!document.querySelector(\".tile[data-index='0'].maximised\")")
    ui.shot("wall-key-full-screen")
    page.keyboard.press("Escape")
    page.wait_for_function("!document.fullscreenElement && !document.querySelector('.maximised')")
    if page.locator(".tile.picked").count():  # Esc left full screen; once more drops the pick
        page.keyboard.press("Escape")
    page.wait_for_function("!document.querySelector('.tile.picked')")
    # Typing in a field is typing, not a shortcut.
    page.focus("input.search")
    page.keyboard.press("3")
    assert page.locator(".tile.picked").count() == 0
    page.fill("input.search", "")

    # The 1+5 grid with a camera in the big tile, kept on the hub for this user...
    page.click("button[data-preset='1+5']")
    page.wait_for_function("document.querySelectorAll('.tile').length === 6")
    mine = _cameras_on_wall(page)
    assert len(mine) == 6 and mine[0] == "tr-renmin-1", mine
    page.wait_for_function("""async () => {
        const t = JSON.parse(sessionStorage.getItem('cityhub.tokens')).access_token;
        const r = await fetch('/api/v1/layouts/last', {headers: {Authorization: 'Bearer ' + t}});
        const last = await r.json();
        return last && last.tiles.length === 6 && last.tiles[0].camera === 'tr-renmin-1'; }""")
    # ...comes back when the same user signs in at another workstation (a new session).
    other = other_workstation
    other.login("traffic-operator")
    other.page.wait_for_selector(".tile[data-index='0'][data-camera='tr-renmin-1']")
    assert _cameras_on_wall(other.page) == mine
    other.shot("wall-restored")
    assert not ui.errors and not other.errors, (ui.errors, other.errors)
