"""FastAPI app of the relay: viewer routes (``viewers.py``), recordings and playback
(``streams/recording/http.py``), service routes (``service.py``) and the test player
(``web.py``)."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from streams.http import service, viewers, web
from streams.recording import http as recording_http
from streams.relay import Relay


def create_app(relay: Relay) -> FastAPI:
    app = FastAPI(title="cityhub relay", docs_url=None, redoc_url=None)
    registry = CollectorRegistry()
    registry.register(service.HealthCollector(relay))
    registry.register(recording_http.RecordingCollector(relay))
    app.include_router(recording_http.router(relay))
    app.include_router(viewers.router(relay))
    app.include_router(service.router(relay, registry))
    app.include_router(web.router())
    return app
