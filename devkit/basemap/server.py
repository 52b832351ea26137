"""Serves the rendered district on loopback, like a city's GIS would: XYZ tiles at
``/{z}/{x}/{y}.png`` and WMS GetMap (EPSG:3857) at ``/wms``. Counts requests
(``/stats``), so tests can see the hub's cache at work.

    python -m devkit.basemap --port 8090
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from devkit.basemap.render import render
from hub.ui.basemap import tile_bbox

TILE = re.compile(r"^/(\d{1,2})/(\d{1,8})/(\d{1,8})\.png$")


class _Handler(BaseHTTPRequestHandler):
    server: BasemapServer

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/stats":
            return self._send(200, json.dumps(self.server.hits).encode(), "application/json")
        self.server.count(url.path if url.path == "/wms" else "/tiles")
        m = TILE.match(url.path)
        if m:
            z, x, y = (int(g) for g in m.groups())
            if z > 22 or x >= 2**z or y >= 2**z:
                return self._send(404, b"no such tile", "text/plain")
            return self._send(200, render(tile_bbox(z, x, y)), "image/png")
        if url.path == "/wms":
            return self._wms({k.upper(): v[0] for k, v in parse_qs(url.query).items()})
        self._send(404, b"not found", "text/plain")

    def _wms(self, q: dict[str, str]) -> None:
        crs = q.get("CRS") or q.get("SRS")
        if q.get("REQUEST") != "GetMap" or crs != "EPSG:3857" or "BBOX" not in q:
            return self._send(200, b"<ServiceExceptionReport>only GetMap in EPSG:3857"
                              b"</ServiceExceptionReport>", "application/vnd.ogc.se_xml")
        try:
            minx, miny, maxx, maxy = (float(v) for v in q["BBOX"].split(","))
            w, h = int(q.get("WIDTH", "256")), int(q.get("HEIGHT", "256"))
        except ValueError:
            return self._send(400, b"BBOX needs four numbers, WIDTH and HEIGHT integers",
                              "text/plain")
        jpeg = q.get("FORMAT") == "image/jpeg"
        body = render((minx, miny, maxx, maxy), min(w, 2048), min(h, 2048),
                      "JPEG" if jpeg else "PNG")
        self._send(200, body, "image/jpeg" if jpeg else "image/png")


class BasemapServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.hits: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, what: str) -> None:
        with self._lock:
            self.hits[what] = self.hits.get(what, 0) + 1

    def start(self) -> BasemapServer:
        threading.Thread(target=self.serve_forever, daemon=True, name="basemap").start()
        return self


def main() -> None:
    p = argparse.ArgumentParser(description="the demo district's base map (XYZ and WMS)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    args = p.parse_args()
    server = BasemapServer(args.host, args.port)
    print(f"basemap: ready on {server.url}", flush=True)
    server.serve_forever()
