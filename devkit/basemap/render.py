"""Draws the district (``district.py``) into an image of any Web Mercator extent with Pillow:
an XYZ tile is the extent of ``hub.ui.basemap.tile_bbox``, a WMS GetMap names its own.
Dark colours, to sit under the control room's dark UI; names from zoom 16."""

from __future__ import annotations

import io
import math
from functools import cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from devkit.basemap.district import district

R = 6378137.0
LABEL_EVERY_M = 800  # a street name every 800 m
SCALE = 2  # drawn at twice the size and scaled down: smooth edges
LAND, BLOCK, PARK, WATER, DEPOT = "#11181f", "#1f2a36", "#1d3a2a", "#1c3d5c", "#3a3350"
#: kind -> (width in metres, least width in pixels, colour)
LINES = {"street": (14, 1, "#3a4858"), "major": (24, 2, "#56677a"), "highway": (30, 2, "#7d6a3c"),
         "water": (45, 3, WATER)}
AREAS = {"block": BLOCK, "park": PARK, "depot": DEPOT}


def mercator(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 to EPSG:3857 metres."""
    return R * math.radians(lon), R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


@cache
def _projected() -> list[tuple[str, str, str, list[tuple[float, float]]]]:
    """(kind, geometry type, name, points in metres) of every feature, projected once."""
    out = []
    for f in district()["features"]:
        geom: dict[str, Any] = f["geometry"]
        coords = geom["coordinates"][0] if geom["type"] == "Polygon" else geom["coordinates"]
        out.append((f["properties"]["kind"], geom["type"], f["properties"].get("name", ""),
                    [mercator(lon, lat) for lon, lat in coords]))
    return out


def _anchors(pts: list[tuple[float, float]], step: float) -> list[tuple[float, float]]:
    """Points every ``step`` pixels along a polyline, from its start."""
    out, carry = [], step / 2
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        length = math.hypot(x1 - x0, y1 - y0)
        d = carry
        while d < length:
            out.append((x0 + (x1 - x0) * d / length, y0 + (y1 - y0) * d / length))
            d += step
        carry = d - length
    return out


def render(bbox: tuple[float, float, float, float], width: int = 256, height: int = 256,
           fmt: str = "PNG") -> bytes:
    """The district within ``bbox`` (EPSG:3857 minx, miny, maxx, maxy) as an image."""
    minx, miny, maxx, maxy = bbox
    w, h = width * SCALE, height * SCALE
    sx, sy = w / (maxx - minx), h / (maxy - miny)
    metres_per_px = 1 / sx * SCALE

    def px(p: tuple[float, float]) -> tuple[float, float]:
        return (p[0] - minx) * sx, (maxy - p[1]) * sy

    img = Image.new("RGB", (w, h), LAND)
    draw = ImageDraw.Draw(img)
    labels = []
    for kind, gtype, name, points in _projected():
        pts = [px(p) for p in points]
        if gtype == "Polygon":
            draw.polygon(pts, fill=AREAS[kind])
            continue
        metres, least, colour = LINES[kind]
        line_w = max(least, round(metres / metres_per_px)) * SCALE
        draw.line(pts, fill=colour, width=line_w, joint="curve")
        if name and metres_per_px < 2.5:
            labels.append((name, pts))
    font = ImageFont.load_default(size=11 * SCALE)
    for name, pts in labels:  # at fixed places along the street: tiles stitch seamlessly
        for x, y in _anchors(pts, LABEL_EVERY_M / metres_per_px * SCALE):
            if -300 * SCALE <= x < w and -20 * SCALE <= y < h + 20 * SCALE:
                draw.text((x + 4 * SCALE, y - 14 * SCALE), name, fill="#8a9bb0", font=font)
    out = io.BytesIO()
    img.resize((width, height), Image.Resampling.LANCZOS).save(out, fmt)
    return out.getvalue()
