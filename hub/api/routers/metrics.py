"""``GET /metrics``: the hub's Prometheus text (ops gauges, process stats)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.auth.access import Anonymous, public

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics (no personal data)", response_class=Response)
def metrics(
    request: Request, ctx: Anonymous = public("scraped by Prometheus", db=False)
) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
