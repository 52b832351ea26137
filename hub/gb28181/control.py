"""The SIP service's control interface for relays (HTTP, bearer token): a relay asks for
a channel's live video (INVITE) and ends it (BYE) without importing the hub."""

from __future__ import annotations

import asyncio
import hmac
import logging

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.logging import uvicorn_log_config
from gb28181.service import InviteError, SipService

log = logging.getLogger(__name__)
TRANSPORTS = ("udp", "tcp-passive", "tcp-active")


def make_app(service: SipService, token: str) -> Starlette:
    def authorized(request: Request) -> bool:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())

    async def invite(request: Request) -> JSONResponse:
        if not authorized(request):
            return JSONResponse({"detail": "bad token", "code": "unauthorized"}, 401)
        try:
            body = await request.json()
            device, channel = str(body["device"])[:32], str(body["channel"])[:32]
            host, port = str(body["host"])[:64], int(body["port"])
            transport = str(body.get("transport", "udp"))
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"detail": "device, channel, host, port required",
                                 "code": "bad_request"}, 400)
        if transport not in TRANSPORTS or not 0 < port < 65536:
            return JSONResponse({"detail": "bad transport or port", "code": "bad_request"}, 400)
        try:
            d = await service.invite(device, channel, host, port, transport)
        except InviteError as exc:
            return JSONResponse({"detail": str(exc), "code": "invite_failed"}, 502)
        return JSONResponse({"call_id": d.call_id, "ssrc": d.ssrc,
                             "device_host": d.answer.host, "device_port": d.answer.port})

    async def bye(request: Request) -> JSONResponse:
        if not authorized(request):
            return JSONResponse({"detail": "bad token", "code": "unauthorized"}, 401)
        try:
            call_id = str((await request.json())["call_id"])[:64]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"detail": "call_id required", "code": "bad_request"}, 400)
        return JSONResponse({"ended": await service.bye(call_id, "relay ended the stream")})

    return Starlette(routes=[Route("/invite", invite, methods=["POST"]),
                             Route("/bye", bye, methods=["POST"])])


async def serve_control(service: SipService, token: str, host: str, port: int
                        ) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """Start the control server; returns it, its task and the bound port."""
    config = uvicorn.Config(make_app(service, token), host=host, port=port, log_level="warning",
                            log_config=uvicorn_log_config(), lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return server, task, bound
