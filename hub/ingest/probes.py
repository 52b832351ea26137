"""The ingest worker's HTTP port: ``/metrics``, ``/healthz`` and ``/readyz`` (deploy/README.md).

prometheus_client's own server answers every path with the metrics, from a thread of its
own: a worker whose event loop hung still passed its liveness probe, and one that had lost
the broker or the database its readiness probe, so neither Kubernetes nor the demo's
supervisor could tell. Here the same server (prometheus_client's WSGI app on wsgiref, in a
thread) answers ``/healthz`` 200 only while the event loop turns (``beat``, left by a task
every ``BEAT_S``, seen within ``HUNG_S``) and ``/readyz`` only while the worker also holds
the broker and the database (the gauges the alerts read) and is not stopping.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, make_wsgi_app

BEAT_S = 1.0
#: A loop that has not turned for this long is hung (the supervisor then decides how long
#: it tolerates that: 8 s in the demo, 30 s in Kubernetes).
HUNG_S = 5.0
Checks = Callable[[], dict[str, bool]]


def gauges_up() -> dict[str, bool]:
    """Readiness from the worker's own gauges: the broker connection and the last write."""
    def up(name: str) -> bool:
        return REGISTRY.get_sample_value(name) == 1

    return {"broker": up("cityhub_ingest_broker_connected"),
            "database": up("cityhub_ingest_database_up")}


class Probes:
    def __init__(self, checks: Checks = gauges_up) -> None:
        self.checks = checks
        self.beat = time.monotonic()
        self.stopping = False
        self._metrics = make_wsgi_app(REGISTRY)

    async def beating(self) -> None:
        """Runs on the worker's event loop for as long as it lives."""
        while True:
            self.beat = time.monotonic()
            await asyncio.sleep(BEAT_S)

    def app(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            alive = time.monotonic() - self.beat < HUNG_S
            return _json(start, alive, {"status": "ok" if alive else "event loop hung"})
        if path == "/readyz":
            checks = {**self.checks(), "serving": not self.stopping}
            ready = all(checks.values())
            return _json(start, ready, {"status": "ready" if ready else "unavailable",
                                        "checks": {k: "ok" if v else "down"
                                                   for k, v in checks.items()}})
        return list(self._metrics(environ, start))


def _json(start: Callable[..., Any], ok: bool, body: dict[str, Any]) -> list[bytes]:
    start("200 OK" if ok else "503 Service Unavailable",
          [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        """Probes every few seconds are not worth a log line each."""


def serve(probes: Probes, port: int, host: str) -> WSGIServer:
    """Serve in a daemon thread; returns the server (``shutdown()`` to stop it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("_Server", (_Server,), {"address_family": family})
    server: WSGIServer = make_server(host, port, probes.app, server_class, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="ingest-probes", daemon=True).start()
    return server
