"""Liveness and readiness (the deploy/README.md contract)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from hub.auth.access import Anonymous, public

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz(ctx: Anonymous = public("probes", db=False)) -> dict[str, str]:
    """On the event loop: alive means the loop turns, whatever the thread pool is doing."""
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers and the schema is there")
def readyz(ctx: Anonymous = public("probes")) -> dict[str, str]:
    if ctx.db.execute("SELECT to_regclass('audit_log') IS NOT NULL").fetchone() != (True,):
        raise HTTPException(503, "schema missing: run cityhub db upgrade")
    return {"status": "ready"}
