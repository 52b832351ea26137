"""The hub API's FastAPI application factory.

Every route declares its access rule (``hub.auth.access``); :func:`create_app`
refuses to build an app where one does not. Errors never echo what was sent
(a rejected camera URL must not come back in a 422), and database errors map to
4xx/503 answers instead of 500s.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import sdnotify
from hub.api.common import CodedError, error_body
from hub.api.routers import (
    api_keys,
    audit,
    auth,
    cameras,
    dead_letters,
    departments,
    events,
    evidence,
    gb28181,
    gb28181_playback,
    grants,
    health,
    incident_rules,
    incident_stats,
    incidents,
    live,
    metrics,
    pending_cameras,
    ptz,
    readings,
    recording_alarms,
    recordings,
    sensors,
    sites,
    streams,
    users,
)
from hub.api.runtime import Runtime
from hub.auth.access import assert_access_declared
from hub.config import CityConfig
from hub.incidents.worker import IncidentWorker
from hub.ops.metrics import AuditVerifier, OpsCollector, registry_for
from hub.store.queries import NotFound
from hub.ui import basemap, layouts, media
from hub.ui import router as ui

log = logging.getLogger(__name__)
PREFIX = "/api/v1"
#: One router per resource, in the order the OpenAPI document lists them.
ROUTERS = [
    auth,
    users,
    api_keys,
    departments,
    grants,
    sites,
    cameras,
    pending_cameras,
    ptz,
    gb28181,
    gb28181_playback,
    sensors,
    events,
    readings,
    live,
    streams,
    recording_alarms,
    recordings,
    evidence,
    incidents,
    incident_rules,
    incident_stats,
    dead_letters,
    audit,
    layouts,
    media,
    basemap,
]


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()
    ]
    return JSONResponse(error_body(422, detail), status_code=422)


def _db_error(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return JSONResponse(error_body(403, "not allowed"), status_code=403)
    if isinstance(exc, psycopg.errors.IntegrityError):
        return JSONResponse(error_body(409, "conflicts with existing data"), status_code=409)
    if isinstance(exc, psycopg.errors.DataError | psycopg.DataError):
        return JSONResponse(error_body(422, "value out of range or malformed"), status_code=422)
    if isinstance(exc, psycopg.OperationalError | psycopg.errors.QueryCanceled):
        log.warning("database unavailable: %s", type(exc).__name__)
        return JSONResponse(error_body(503, "database unavailable"), status_code=503)
    log.error("database error %s", type(exc).__name__)  # the message may quote values: not logged
    return JSONResponse(error_body(500, "internal error"), status_code=500)


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    """Every HTTP error, coded: its own code (CodedError) or the status's."""
    assert isinstance(exc, StarletteHTTPException)
    code = exc.code if isinstance(exc, CodedError) else None
    extra = exc.extra if isinstance(exc, CodedError) else None
    return JSONResponse(error_body(exc.status_code, exc.detail, code, extra),
                        status_code=exc.status_code, headers=exc.headers)


def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(error_body(404, "not found"), status_code=404)


def create_app(config: CityConfig, runtime: Runtime | None = None) -> FastAPI:
    """The API; ``runtime`` defaults to one built (and closed on shutdown) from ``config``."""
    rt = runtime or Runtime.from_config(config)
    verifier = AuditVerifier(rt.pool, config.ops.audit_verify_every_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await rt.apool.open()
        worker = None
        if config.incidents.worker and config.database.url is not None:
            worker = IncidentWorker(config.database.url.get_secret_value(), config.incidents)
            worker.start()
        app.state.incident_worker = worker
        verifier.start()
        async with sdnotify.supervised():  # systemd: Type=notify, WatchdogSec= (deploy/systemd)
            yield
        verifier.stop()
        if worker is not None:
            worker.stop()
        await rt.live.close()
        await rt.apool.close()
        if runtime is None:
            rt.close()

    app = FastAPI(
        title="cityhub API",
        version="1",
        summary="Departments, sharing grants, cameras, events, readings, live video tokens, audit.",
        description=(
            "Deny by default: every route states who may call it. A department sees what it owns "
            "and what other departments granted it (scope, purpose, expiry; revocable). Log in at "
            "`POST /api/v1/auth/token` (OAuth2 password flow) and send `Authorization: Bearer "
            "<access_token>`; services send `X-API-Key`. Every login, query, view, export and "
            "grant change is appended to a hash-chained audit log."
        ),
        lifespan=lifespan,
    )
    app.state.runtime = rt
    app.state.audit_verifier = verifier
    app.state.metrics = registry_for(OpsCollector(config.ops, config.state_dir, verifier))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(psycopg.Error, _db_error)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.include_router(health.router)
    app.include_router(metrics.router)
    for module in ROUTERS:
        app.include_router(module.router, prefix=PREFIX)
    if config.ui.enabled:
        app.include_router(ui.router)
    assert_access_declared(app)
    return app
