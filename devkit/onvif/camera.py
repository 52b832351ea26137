"""``cityhub simulate onvif-camera``: simulated ONVIF PTZ cameras on real sockets.

Per camera an HTTP port with the device, media and PTZ services (SOAP 1.2,
WS-UsernameToken checked) and a JPEG snapshot; one RTSP server for every camera's
main and sub stream (the picture follows the head); one WS-Discovery responder.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hmac
import json
import os
import signal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devkit.onvif import soap
from devkit.onvif.discovery import serve_discovery
from devkit.onvif.options import add_arguments
from devkit.onvif.services import NO_AUTH, SimCamera
from devkit.onvif.video import PtzVideoServer, snapshot_jpeg
from streams.glib_loop import ensure_glib_loop

MAX_REQUEST_BYTES = 65_536


def onvif_app(cam: SimCamera, username: str, password: str) -> Starlette:
    async def service(request: Request) -> Response:
        data = await request.body()
        try:
            if len(data) > MAX_REQUEST_BYTES:
                raise soap.Fault("ter:WellFormed", "request too large")
            req = soap.parse(data)
            if req.operation not in NO_AUTH:
                soap.check_auth(req, username, password)
            body = soap.envelope(cam.answer(req))
            return Response(body, media_type=soap.CONTENT_TYPE)
        except soap.Fault as f:
            return Response(soap.fault(f), status_code=f.status, media_type=soap.CONTENT_TYPE)

    async def snapshot(request: Request) -> Response:
        if not _basic_ok(request.headers.get("authorization", ""), username, password):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="onvif"'})
        try:
            profile = cam.profile(request.path_params["profile"])
        except soap.Fault:
            return Response(status_code=404)
        jpeg = await asyncio.to_thread(snapshot_jpeg, cam, profile)
        return Response(jpeg, media_type="image/jpeg")

    return Starlette(routes=[
        Route("/onvif/{service}_service", service, methods=["POST"]),
        Route("/onvif/snapshot/{profile}.jpg", snapshot),
    ])


def _basic_ok(header: str, username: str, password: str) -> bool:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(value).decode()
    except ValueError:
        return False
    return hmac.compare_digest(given, f"{username}:{password}")


def make_cameras(n: int, host: str, http_port: int, rtsp_port: int) -> list[SimCamera]:
    return [SimCamera(f"ptz{i + 1}", f"http://{host}:{http_port + i}", f"rtsp://{host}:{rtsp_port}",
                      serial=f"SIM{i + 1:04d}") for i in range(n)]


async def serve(cameras: list[SimCamera], host: str, username: str, password: str,
                discovery: bool, stop: asyncio.Event) -> None:
    """HTTP services of every camera (and the discovery responder) until ``stop``."""
    servers = []
    for cam in cameras:
        port = int(cam.http.rsplit(":", 1)[1])
        config = uvicorn.Config(onvif_app(cam, username, password), host=host, port=port,
                                log_level="warning", lifespan="off")
        servers.append(uvicorn.Server(config))
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    responder = await serve_discovery(cameras) if discovery else None
    while not all(s.started for s in servers):
        if any(t.done() for t in tasks):
            raise SystemExit("onvif camera: cannot listen for HTTP (port taken?)")
        await asyncio.sleep(0.02)
    print("onvif camera: ready " + json.dumps(
        {c.name: f"{c.http}/onvif/device_service" for c in cameras}), flush=True)
    await stop.wait()
    if responder is not None:
        responder.close()
    for s in servers:
        s.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)


def run_cli(args: argparse.Namespace) -> int:
    password = args.password or os.environ.get("CITYHUB_ONVIF_PASSWORD", "")
    if not password:
        raise SystemExit("onvif-camera needs --password or CITYHUB_ONVIF_PASSWORD")
    cameras = make_cameras(args.cameras, args.host, args.http_port, args.rtsp_port)
    ensure_glib_loop()
    PtzVideoServer(cameras, args.host, args.rtsp_port, args.username, password).start()

    async def main() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await serve(cameras, args.host, args.username, password, args.discovery, stop)

    asyncio.run(main())
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devkit.onvif", description=__doc__.split("\n")[0])
    add_arguments(p)
    p.add_argument("--password", default="", help="password (or CITYHUB_ONVIF_PASSWORD)")
    return run_cli(p.parse_args(argv))
