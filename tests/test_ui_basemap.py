"""The map's base layer through the hub (hub/ui/basemap.py): XYZ and WMS sources on loopback
(devkit.basemap, the demo district's own renderer), the disk cache, stale tiles while the
source is down, and the source's URL kept from the browser."""

from __future__ import annotations

import io
import json
import math
import os
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from devkit.basemap.server import BasemapServer
from devkit.fixtures.hubapi import HubApi, build_hub
from hub.ui.basemap import TileCache, source_url, tile_bbox
from hub.ui.settings import BasemapConfig

XINHUA = (104.0648, 30.6586)  # the demo's Xinhua Rd / 5th Ave


def lonlat_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a WGS-84 point at zoom z (which tile a test asks for)."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    rad = math.radians(lat)
    y = int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


@pytest.fixture
def gis() -> Iterator[BasemapServer]:
    server = BasemapServer().start()
    yield server
    server.shutdown()
    server.server_close()


def _hits(server: BasemapServer) -> dict[str, int]:
    with urllib.request.urlopen(f"{server.url}/stats", timeout=5) as r:
        return dict(json.loads(r.read()))


@pytest.fixture
def hub_with_map(pg_dsn: str, tmp_path: Path, gis: BasemapServer,
                 request: pytest.FixtureRequest) -> Iterator[HubApi]:
    basemap = {"kind": "xyz", "url": f"{gis.url}/{{z}}/{{x}}/{{y}}.png", "max_zoom": 18,
               "attribution": "demo district", **getattr(request, "param", {})}
    if basemap["kind"] == "wms":
        basemap["url"] = f"{gis.url}/wms"
    hub = build_hub(pg_dsn, tmp_path / "state", ui={"basemap": basemap})
    with hub.client:
        yield hub
    hub.runtime.close()


def _png(body: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(body))
    img.load()
    return img


def test_tiles_come_through_the_hub_and_then_from_its_cache(
        hub_with_map: HubApi, gis: BasemapServer) -> None:
    c, police = hub_with_map.client, hub_with_map.headers("police")
    z = 16
    x, y = lonlat_tile(*XINHUA, z)
    path = f"/api/v1/map/tiles/{z}/{x}/{y}"
    assert c.get(path).status_code == 401  # deny by default: signed-in callers only
    first = c.get(path, headers=police)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/png"
    assert first.headers["x-tile-source"] == "source"
    img = _png(first.content)
    assert img.size == (256, 256)
    assert len(img.convert("RGB").getcolors(65536) or []) > 3  # streets and blocks, not one colour
    again = c.get(path, headers=police)
    assert again.headers["x-tile-source"] == "cache" and again.content == first.content
    assert _hits(gis) == {"/tiles": 1}
    cached = list((hub_with_map.config.state_dir / "map-tiles").rglob("*.tile"))
    assert len(cached) == 1

    # The source's URL (it may hold a key) is never given to the browser.
    config = c.get("/ui/config.json").json()
    assert config["basemap"] == {"url": "/api/v1/map/tiles/{z}/{x}/{y}",
                                 "attribution": "demo district", "min_zoom": 0, "max_zoom": 18}
    assert gis.url not in json.dumps(config)

    # Outside the world or above max_zoom: a coded 404, no fetch.
    for bad in (f"{z}/{2**z}/{y}", f"19/{x}/{y}", f"{z}/-1/{y}"):
        r = c.get(f"/api/v1/map/tiles/{bad}", headers=police)
        assert r.status_code in (404, 422) and r.json()["code"] in ("not_found", "invalid"), bad
    assert _hits(gis) == {"/tiles": 1}


def test_a_stale_tile_is_served_while_the_source_is_down(
        hub_with_map: HubApi, gis: BasemapServer) -> None:
    c, police = hub_with_map.client, hub_with_map.headers("police")
    x, y = lonlat_tile(*XINHUA, 15)
    assert c.get(f"/api/v1/map/tiles/15/{x}/{y}", headers=police).status_code == 200
    old = time.time() - 8 * 86400  # older than cache_max_age_s (a week)
    for tile in (hub_with_map.config.state_dir / "map-tiles").rglob("*.tile"):
        os.utime(tile, (old, old))
    gis.shutdown()
    gis.server_close()
    stale = c.get(f"/api/v1/map/tiles/15/{x}/{y}", headers=police)
    assert stale.status_code == 200 and stale.headers["x-tile-source"] == "stale"
    missing = c.get(f"/api/v1/map/tiles/15/{x + 1}/{y}", headers=police)
    assert missing.status_code == 502 and missing.json()["code"] == "map_source"
    assert "127.0.0.1" not in missing.text  # the source's address stays on the hub


@pytest.mark.parametrize("hub_with_map", [{"kind": "wms", "wms_layers": "district",
                                           "image_format": "image/jpeg"}], indirect=True)
def test_wms_getmap_per_tile(hub_with_map: HubApi, gis: BasemapServer) -> None:
    c, police = hub_with_map.client, hub_with_map.headers("police")
    x, y = lonlat_tile(*XINHUA, 17)
    r = c.get(f"/api/v1/map/tiles/17/{x}/{y}", headers=police)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    assert _png(r.content).size == (256, 256)
    assert _hits(gis) == {"/wms": 1}


class _ErrorPage(BaseHTTPRequestHandler):
    """A GIS that answers 200 with an XML exception (as WMS servers do)."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = b"<ServiceExceptionReport>LayerNotDefined</ServiceExceptionReport>"
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_an_error_document_is_not_cached_as_a_tile(pg_dsn: str, tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ErrorPage)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        hub = build_hub(pg_dsn, tmp_path / "state", ui={"basemap": {
            "kind": "wms", "url": f"http://127.0.0.1:{server.server_address[1]}/wms",
            "wms_layers": "nope"}})
        with hub.client:
            r = hub.client.get("/api/v1/map/tiles/3/1/1", headers=hub.headers("police"))
        hub.runtime.close()
    finally:
        server.shutdown()
        server.server_close()
    assert r.status_code == 502 and r.json()["code"] == "map_source"
    assert not list((tmp_path / "state" / "map-tiles").rglob("*.tile"))


def test_no_base_map_by_default(hub_api: HubApi) -> None:
    r = hub_api.client.get("/api/v1/map/tiles/1/0/0", headers=hub_api.headers("police"))
    assert r.status_code == 404 and r.json()["code"] == "map_off"
    assert hub_api.client.get("/ui/config.json").json()["basemap"] is None


def test_config_is_checked() -> None:
    with pytest.raises(ValidationError, match="needs"):
        BasemapConfig(kind="xyz", url="http://gis/tiles/{z}/{x}.png")
    with pytest.raises(ValidationError, match="wms_layers"):
        BasemapConfig(kind="wms", url="http://gis/wms")
    with pytest.raises(ValidationError, match="http"):
        BasemapConfig(kind="xyz", url="file:///etc/{z}/{x}/{y}")


def test_wms_request_and_tile_math() -> None:
    assert tile_bbox(0, 0, 0) == pytest.approx((-20037508.34, -20037508.34,
                                                20037508.34, 20037508.34))
    assert tile_bbox(1, 1, 0) == pytest.approx((0, 0, 20037508.34, 20037508.34))
    assert lonlat_tile(0.0, 0.0, 1) == (1, 1) and lonlat_tile(-180, 85, 2) == (0, 0)
    cfg = BasemapConfig(kind="wms", url="http://gis/wms?map=city", wms_layers="roads,blocks",
                        wms_version="1.1.1")
    url = source_url(cfg, 1, 0, 1)
    assert url.startswith("http://gis/wms?map=city&SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap")
    assert "SRS=EPSG%3A3857" in url and "LAYERS=roads%2Cblocks" in url
    assert "BBOX=-20037508.343%2C-20037508.343%2C0.000%2C0.000" in url


def test_the_cache_keeps_to_its_bound(tmp_path: Path) -> None:
    cfg = BasemapConfig(kind="xyz", url="http://gis/{z}/{x}/{y}.png",
                        cache_max_mb=1)
    cache = TileCache(cfg, tmp_path)
    blob = b"\x89PNG" + b"x" * 100_000
    for i in range(15):  # 1.5 MB written
        cache.write(18, i, 0, blob, "image/png")
    assert cache.prune() > 0
    left = sum(p.stat().st_size for p in cache.root.rglob("*.tile"))
    assert left <= 0.9 * 1024 * 1024
    assert cache.read(18, 14, 0) is not None  # the newest stay
