"""The control API's part for a device's own recordings played to cityhub's viewers: the
window (and 2022 download speed) of a playback INVITE, MANSRTSP commands in the call
(``POST /info``), and whether the call is still open (``GET /calls/{call_id}``: a device
BYEs, or says MediaStatus 121, at the end of the file)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gb28181 import mansrtsp
from gb28181.service import SipService

MAX_WINDOW_S = 24 * 3600


def invite_window(body: dict[str, object]) -> tuple[tuple[int, int] | None, int | None]:
    """(start, end) and download speed of an INVITE request; ValueError when bad."""
    if body.get("start") is None:
        return None, None
    start, end = int(float(str(body["start"]))), int(float(str(body["end"])))
    if not 0 < start < end or end - start > MAX_WINDOW_S:
        raise ValueError("start < end, at most 24 h apart, required")
    speed = body.get("download_speed")
    if speed is None:
        return (start, end), None
    if not isinstance(speed, int) or isinstance(speed, bool) or not 1 <= speed <= 32:
        raise ValueError("download_speed must be 1..32")
    return (start, end), speed


def routes(service: SipService, authorized: Callable[[Request], bool]) -> list[Route]:
    refused = JSONResponse({"detail": "bad token", "code": "unauthorized"}, 401)

    async def info(request: Request) -> JSONResponse:
        """``{"call_id", "command": "pause"|"play", "scale"?, "npt"?}`` -> the device's
        answer; 502 when it did not accept."""
        if not authorized(request):
            return refused
        try:
            body = await request.json()
            call_id, command = str(body["call_id"])[:64], str(body["command"])
            scale = float(body["scale"]) if body.get("scale") is not None else None
            npt = float(body["npt"]) if body.get("npt") is not None else None
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"detail": "call_id and command required",
                                 "code": "bad_request"}, 400)
        if command not in ("pause", "play") or (scale is not None and scale not in
                                                 mansrtsp.SCALES) or (npt or 0) < 0:
            return JSONResponse({"detail": "command pause|play, scale in "
                                 f"{mansrtsp.SCALES}, npt >= 0", "code": "bad_request"}, 400)
        if call_id not in service.calls.dialogs:
            return JSONResponse({"detail": "no such call", "code": "not_found"}, 404)
        cseq = service.calls.dialogs[call_id].cseq + 1
        msg = mansrtsp.pause(cseq) if command == "pause" else mansrtsp.play(cseq, scale, npt)
        status = await service.calls.info(call_id, msg)
        if status != 200:
            return JSONResponse({"detail": f"device answered {status or 'nothing'}",
                                 "code": "control_failed"}, 502)
        return JSONResponse({"ok": True})

    async def call(request: Request) -> JSONResponse:
        if not authorized(request):
            return refused
        call_id = request.path_params["call_id"][:64]
        ended = [kind for cid, kind in service.media_status if cid == call_id]
        return JSONResponse({"open": call_id in service.calls.dialogs,
                             "end_of_file": "121" in ended})

    return [Route("/info", info, methods=["POST"]),
            Route("/calls/{call_id}", call, methods=["GET"])]
