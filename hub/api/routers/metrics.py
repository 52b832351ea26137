"""``GET /metrics``: the hub's Prometheus text (ops gauges, process stats).

The gauges name watched disks and certificate paths, so the route answers the service
token only, the same one Prometheus sends to the relays (``streams.service_token``, or
derived from the signing keys: ``hub.relays.require_service_token``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.auth.access import Anonymous, public
from hub.relays import require_service_token

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics (service token)", response_class=Response)
def metrics(
    request: Request,
    ctx: Anonymous = public("scraped by Prometheus with the service token", db=False),
) -> Response:
    require_service_token(ctx.runtime.config, ctx.runtime.play_secrets,
                          request.headers.get("authorization"))
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
