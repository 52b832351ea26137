"""The SIP service's control interface (HTTP, bearer token): a relay asks for a channel's
live video or a stretch of its recording on the device (INVITE; MANSRTSP ``/info``, call
state ``/calls/{id}``: ``playback_control``) and ends it (BYE) without importing the hub;
the hub's PTZ driver (``hub/ptz/gb28181.py``) steers a channel (DeviceControl: PTZCmd, presets, 2022
PTZPreciseCtrl, RecordCmd) and reads its position (PTZPosition)."""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
from collections.abc import Awaitable, Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.logging import uvicorn_log_config
from gb28181 import devctl
from gb28181.calls import InviteError
from gb28181.service import SipService
from hub.gb28181 import playback_control

log = logging.getLogger(__name__)
TRANSPORTS = ("udp", "tcp-passive", "tcp-active")


Endpoint = Callable[["_Control", Request], Awaitable[JSONResponse]]


def _guarded(handler: Endpoint) -> Endpoint:
    """Only for the bearer of the control token."""

    @functools.wraps(handler)
    async def run(self: _Control, request: Request) -> JSONResponse:
        if not self.authorized(request):
            return JSONResponse({"detail": "bad token", "code": "unauthorized"}, 401)
        return await handler(self, request)

    return run


class _Control:
    """The endpoints, each a SIP request to a device on the relay's or the hub's behalf."""

    def __init__(self, service: SipService, token: str) -> None:
        self.service, self.token = service, token

    def authorized(self, request: Request) -> bool:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), self.token.encode())

    @_guarded
    async def invite(self, request: Request) -> JSONResponse:
        try:
            body = await request.json()
            device, channel = str(body["device"])[:32], str(body["channel"])[:32]
            host, port = str(body["host"])[:64], int(body["port"])
            transport = str(body.get("transport", "udp"))
            window, speed = playback_control.invite_window(body)
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"detail": "device, channel, host, port required (start < end"
                                 " for playback)", "code": "bad_request"}, 400)
        if transport not in TRANSPORTS or not 0 < port < 65536:
            return JSONResponse({"detail": "bad transport or port", "code": "bad_request"}, 400)
        try:
            d = await self.service.calls.invite(device, channel, host, port, transport, window,
                                                speed)
        except InviteError as exc:
            return JSONResponse({"detail": str(exc), "code": "invite_failed"}, 502)
        return JSONResponse({"call_id": d.call_id, "ssrc": d.ssrc,
                             "device_host": d.answer.host, "device_port": d.answer.port})

    @_guarded
    async def bye(self, request: Request) -> JSONResponse:
        try:
            call_id = str((await request.json())["call_id"])[:64]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"detail": "call_id required", "code": "bad_request"}, 400)
        ended = await self.service.calls.bye(call_id, "relay ended the stream")
        return JSONResponse({"ended": ended})

    @_guarded
    async def control(self, request: Request) -> JSONResponse:
        try:
            body = await request.json()
            device, channel = str(body["device"])[:32], str(body["channel"])[:32]
            inner = _control_body(body)
        except (ValueError, KeyError, TypeError) as exc:  # ControlError is a ValueError
            return JSONResponse({"detail": f"bad control request: {str(exc)[:120]}",
                                 "code": "bad_request"}, 400)
        if not await self.service.control(device, channel, inner):
            return JSONResponse({"detail": f"{device} did not accept the command",
                                 "code": "control_failed"}, 502)
        return JSONResponse({"ok": True})

    @_guarded
    async def position(self, request: Request) -> JSONResponse:
        try:
            body = await request.json()
            device, channel = str(body["device"])[:32], str(body["channel"])[:32]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"detail": "device, channel required", "code": "bad_request"},
                                400)
        doc = await self.service.ask(device, channel, "PTZPosition")
        found = devctl.position(doc) if doc is not None else None
        if found is None:
            return JSONResponse({"detail": f"{channel} gave no position",
                                 "code": "control_failed"}, 502)
        return JSONResponse(dict(zip(("pan", "tilt", "zoom"), found, strict=True)))

    @_guarded
    async def records(self, request: Request) -> JSONResponse:
        """A channel's recordings on the device in a window (RecordInfo)."""
        try:
            body = await request.json()
            device, channel = str(body["device"])[:32], str(body["channel"])[:32]
            start, end = float(body["start"]), float(body["end"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"detail": "device, channel, start, end required",
                                 "code": "bad_request"}, 400)
        if not 0 < start < end:
            return JSONResponse({"detail": "start < end required", "code": "bad_request"}, 400)
        zone = self.service.s.zone
        items = await self.service.ask_list(device, channel, "RecordInfo",
                                       devctl.record_query(start, end, zone), "RecordList")
        if items is None:
            return JSONResponse({"detail": f"{channel} gave no record list",
                                 "code": "control_failed"}, 502)
        return JSONResponse({"records": devctl.records(items, zone)})


def make_app(service: SipService, token: str) -> Starlette:
    api = _Control(service, token)
    return Starlette(routes=[Route("/invite", api.invite, methods=["POST"]),
                             Route("/bye", api.bye, methods=["POST"]),
                             Route("/records", api.records, methods=["POST"]),
                             Route("/control", api.control, methods=["POST"]),
                             Route("/position", api.position, methods=["POST"]),
                             *playback_control.routes(service, api.authorized)])


def _control_body(body: dict[str, object]) -> str:
    """The DeviceControl element for a JSON command (ControlError/KeyError when bad)."""
    cmd = body["command"]

    def num(name: str, default: float | None = None) -> float:
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number")
        return float(value)

    if cmd == "move":
        return devctl.ptz_cmd(devctl.move(num("pan", 0), num("tilt", 0), num("zoom", 0)))
    if cmd == "stop":
        return devctl.ptz_cmd(devctl.move(0, 0, 0))
    if cmd == "precise":
        return devctl.precise(num("pan"), num("tilt"), num("zoom", 1))
    if cmd == "preset":
        ops = {"set": devctl.PRESET_SET, "goto": devctl.PRESET_GOTO,
               "delete": devctl.PRESET_DELETE}
        return devctl.ptz_cmd(devctl.preset(ops[str(body["op"])], int(num("number"))))
    if cmd == "record":
        return devctl.record(bool(body.get("on", True)), int(num("stream_number", 0)))
    raise ValueError("command must be move, stop, precise, preset or record")


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
