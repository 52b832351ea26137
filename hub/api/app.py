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
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from hub.api.routers import (
    api_keys,
    audit,
    auth,
    cameras,
    departments,
    events,
    evidence,
    gb28181,
    grants,
    health,
    live,
    readings,
    sensors,
    sites,
    streams,
    users,
)
from hub.api.runtime import Runtime
from hub.auth.access import assert_access_declared
from hub.config import CityConfig
from hub.store.queries import NotFound
from hub.ui import layouts, media
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
    gb28181,
    sensors,
    events,
    readings,
    live,
    streams,
    evidence,
    audit,
    layouts,
    media,
]


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def _db_error(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return JSONResponse({"detail": "not allowed"}, status_code=403)
    if isinstance(exc, psycopg.errors.IntegrityError):
        return JSONResponse({"detail": "conflicts with existing data"}, status_code=409)
    if isinstance(exc, psycopg.errors.DataError | psycopg.DataError):
        return JSONResponse({"detail": "value out of range or malformed"}, status_code=422)
    if isinstance(exc, psycopg.OperationalError | psycopg.errors.QueryCanceled):
        log.warning("database unavailable: %s", type(exc).__name__)
        return JSONResponse({"detail": "database unavailable"}, status_code=503)
    log.error("database error %s", type(exc).__name__)  # the message may quote values: not logged
    return JSONResponse({"detail": "internal error"}, status_code=500)


def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "not found"}, status_code=404)


def create_app(config: CityConfig, runtime: Runtime | None = None) -> FastAPI:
    """The API; ``runtime`` defaults to one built (and closed on shutdown) from ``config``."""
    rt = runtime or Runtime.from_config(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await rt.apool.open()
        yield
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
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(psycopg.Error, _db_error)
    app.add_exception_handler(NotFound, _not_found)
    app.include_router(health.router)
    for module in ROUTERS:
        app.include_router(module.router, prefix=PREFIX)
    if config.ui.enabled:
        app.include_router(ui.router)
    assert_access_declared(app)
    return app


def routes_and_rules(app: FastAPI) -> list[tuple[str, str, Any]]:
    """(method, path, access rule) of every API route: documentation and tests."""
    from fastapi.routing import APIRoute

    from hub.auth.access import access_rule, iter_routes

    out = []
    for path, route in iter_routes(app):
        if isinstance(route, APIRoute):
            for method in sorted(route.methods):
                out.append((method, path, access_rule(route)))
    return out
