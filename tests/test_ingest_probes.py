"""The ingest worker's probes (deploy/README.md contract): /healthz while its event loop turns,
/readyz while it holds the broker and the database and is not stopping, /metrics as before.
prometheus_client's own server answered every path with the metrics, so a hung worker, or one
without a broker, passed both probes."""

from __future__ import annotations

import signal
import time

import httpx

from core.net import free_port
from devkit.embedded import EmbeddedBroker
from devkit.fixtures.wait import wait_for
from hub.ingest import probes


def _get(port: int, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)


def test_a_real_worker_is_ready_with_its_broker_and_unready_without_it(
    migrated_dsn: str, private_broker: EmbeddedBroker, ingest_workers
) -> None:
    port = free_port()
    worker = ingest_workers(migrated_dsn, private_broker.url, metrics_port=port).start(0)

    def ready() -> bool:
        try:
            return _get(port, "/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, 60, "the worker to be ready")
    body = _get(port, "/readyz").json()
    assert body == {"status": "ready",
                    "checks": {"broker": "ok", "database": "ok", "serving": "ok"}}
    assert _get(port, "/healthz").json() == {"status": "ok"}
    assert "cityhub_ingest_broker_connected 1.0" in _get(port, "/metrics").text

    private_broker.stop()
    wait_for(lambda: _get(port, "/readyz").status_code == 503, 30, "unready without a broker")
    assert _get(port, "/readyz").json()["checks"]["broker"] == "down"
    assert _get(port, "/healthz").status_code == 200  # alive: it reconnects by itself
    private_broker.start()
    wait_for(ready, 60, "ready again once the broker is back")

    worker.send_signal(signal.SIGTERM)  # draining: unready at once, then gone
    try:
        wait_for(lambda: not ready(), 10, "unready on SIGTERM")
    finally:
        worker.wait(30)


def test_healthz_fails_when_the_event_loop_stops_turning() -> None:
    """The HTTP thread still answers; the loop's beat is what it reports."""
    health = probes.Probes(checks=lambda: {"broker": True, "database": True})
    server = probes.serve(health, free_port(), "127.0.0.1")
    port = server.server_address[1]
    try:
        assert _get(port, "/healthz").status_code == 200
        health.beat = time.monotonic() - probes.HUNG_S - 1  # the loop's last turn, long ago
        hung = _get(port, "/healthz")
        assert hung.status_code == 503 and hung.json() == {"status": "event loop hung"}
        assert _get(port, "/readyz").status_code == 200  # readiness is about its links
        health.stopping = True
        assert _get(port, "/readyz").json() == {
            "status": "unavailable",
            "checks": {"broker": "ok", "database": "ok", "serving": "down"}}
    finally:
        server.shutdown()
