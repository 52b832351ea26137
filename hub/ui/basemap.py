"""The map's base layer through the hub: ``/api/v1/map/tiles/{z}/{x}/{y}``.

Control-room workstations have no internet and often no route to the city's GIS; the
hub fetches XYZ tiles or WMS GetMap images (``ui.basemap``) and keeps them on disk, so
each tile crosses the GIS link once a week at most, and a GIS outage leaves the cached
map in place. The source URL (it may carry a key) never reaches the browser.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Response

from core.http import async_client
from hub.api.common import CodedError
from hub.auth.access import Caller, require
from hub.ui.settings import BasemapConfig

router = APIRouter(prefix="/map", tags=["map"])
MAX_TILE_BYTES = 2 * 1024 * 1024
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
HALF_WORLD = 20037508.342789244  # EPSG:3857 metres from the centre to the edge
PRUNE_EVERY = 200  # writes between two checks of the cache's size


def tile_bbox(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The XYZ tile's extent in EPSG:3857 metres (minx, miny, maxx, maxy)."""
    size = 2 * HALF_WORLD / 2**z
    minx = -HALF_WORLD + x * size
    maxy = HALF_WORLD - y * size
    return (minx, maxy - size, minx + size, maxy)


def source_url(cfg: BasemapConfig, z: int, x: int, y: int) -> str:
    """Where the tile is fetched from: the XYZ template filled, or a WMS GetMap request."""
    assert cfg.url is not None
    base = cfg.url.get_secret_value()
    if cfg.kind == "xyz":
        return base.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
    crs = "CRS" if cfg.wms_version == "1.3.0" else "SRS"
    params = {"SERVICE": "WMS", "VERSION": cfg.wms_version, "REQUEST": "GetMap",
              "LAYERS": cfg.wms_layers, "STYLES": cfg.wms_styles, crs: "EPSG:3857",
              "BBOX": ",".join(f"{v:.3f}" for v in tile_bbox(z, x, y)),
              "WIDTH": "256", "HEIGHT": "256", "FORMAT": cfg.image_format}
    return f"{base}{'&' if '?' in base else '?'}{urlencode(params)}"


class TileCache:
    """Tiles on disk under a folder per source (changing the source never serves old tiles)."""

    def __init__(self, cfg: BasemapConfig, state_dir: Path) -> None:
        self.cfg = cfg
        key = f"{cfg.kind}|{cfg.url.get_secret_value() if cfg.url else ''}|{cfg.wms_layers}|" \
              f"{cfg.wms_styles}|{cfg.image_format}"
        self.root = (cfg.cache_dir or state_dir / "map-tiles") / hashlib.sha256(
            key.encode()).hexdigest()[:16]
        self.writes = 0

    def path(self, z: int, x: int, y: int) -> Path:
        return self.root / str(z) / str(x) / f"{y}.tile"

    def read(self, z: int, x: int, y: int) -> tuple[bytes, str, float] | None:
        """(image, content type, age in seconds) of a cached tile, or None."""
        path = self.path(z, x, y)
        try:
            blob = path.read_bytes()
            age = time.time() - path.stat().st_mtime
        except OSError:
            return None
        kind, _, image = blob.partition(b"\n")
        return image, kind.decode("ascii", "replace"), age

    def write(self, z: int, x: int, y: int, image: bytes, kind: str) -> None:
        """Atomically (a reader never sees half a tile); the oldest go beyond the bound."""
        path = self.path(z, x, y)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{id(image)}.tmp")
        tmp.write_bytes(kind.encode("ascii") + b"\n" + image)
        os.replace(tmp, path)
        self.writes += 1
        if self.writes % PRUNE_EVERY == 1:
            self.prune()

    def prune(self) -> int:
        """Deletes the least recently fetched tiles until the cache is under 90 % of its
        bound; how many went."""
        files = []
        for path in self.root.rglob("*.tile"):
            try:
                st = path.stat()
            except OSError:
                continue
            files.append((st.st_mtime, st.st_size, path))
        total, bound = sum(f[1] for f in files), self.cfg.cache_max_mb * 1024 * 1024
        gone = 0
        for _, size, path in sorted(files):
            if total <= bound * 0.9:
                break
            path.unlink(missing_ok=True)
            total -= size
            gone += 1
        return gone


_caches: dict[int, TileCache] = {}


def _cache_for(caller: Caller) -> TileCache:
    cfg = caller.runtime.config
    cache = _caches.get(id(cfg.ui.basemap))
    if cache is None or cache.cfg is not cfg.ui.basemap:
        cache = _caches[id(cfg.ui.basemap)] = TileCache(cfg.ui.basemap, cfg.state_dir)
    return cache


async def fetch_tile(cfg: BasemapConfig, z: int, x: int, y: int) -> tuple[bytes, str]:
    """The image from the source; CodedError 502 ``map_source`` when it gives none (down,
    an error page, a WMS exception document, too large)."""
    try:
        async with async_client(timeout=cfg.timeout_s, follow_redirects=True) as client:
            r = await client.get(source_url(cfg, z, x, y))
    except httpx.HTTPError:
        raise CodedError(502, "map source unreachable", "map_source") from None
    kind = r.headers.get("content-type", "").split(";")[0].strip().lower()
    if r.status_code == 404:
        raise CodedError(404, "no such tile at the map source", "not_found")
    if r.status_code != 200 or kind not in IMAGE_TYPES or len(r.content) > MAX_TILE_BYTES:
        raise CodedError(502, f"map source answered {r.status_code} {kind or 'no type'}",
                         "map_source")
    return r.content, kind


def _image(image: bytes, kind: str, source: str) -> Response:
    return Response(image, media_type=kind, headers={
        "Cache-Control": "private, max-age=3600", "X-Tile-Source": source})


@router.get("/tiles/{z}/{x}/{y}", summary="A base-map tile (fetched by the hub, cached)",
            responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}})
async def tile(z: int, x: int, y: int, caller: Caller = require(hold_db=False)) -> Response:
    """XYZ tile z/x/y (Web Mercator) of the configured base layer. ``X-Tile-Source`` says
    ``cache``, ``source`` or ``stale`` (cached, served because the source failed)."""
    cfg = caller.runtime.config.ui.basemap
    if cfg.kind == "none":
        raise CodedError(404, "no base map configured (ui.basemap)", "map_off")
    if not (cfg.min_zoom <= z <= cfg.max_zoom and 0 <= x < 2**z and 0 <= y < 2**z):
        raise CodedError(404, "tile outside the base map", "not_found")
    cache = _cache_for(caller)
    cached = await asyncio.to_thread(cache.read, z, x, y)
    if cached is not None and cached[2] < cfg.cache_max_age_s:
        return _image(cached[0], cached[1], "cache")
    try:
        image, kind = await fetch_tile(cfg, z, x, y)
    except CodedError as exc:
        if cached is not None and exc.status_code == 502:
            return _image(cached[0], cached[1], "stale")
        raise
    await asyncio.to_thread(cache.write, z, x, y, image, kind)
    return _image(image, kind, "source")
