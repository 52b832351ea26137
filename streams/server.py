"""The relay process: pull cameras, serve RTSP and HTTP (WHEP, fMP4, snapshots, clips).

``cityhub relay`` (``hub.relay_cli``) reads the city file and calls ``serve``.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

import uvicorn

from core import sdnotify
from core.config import CameraConfig
from core.logging import uvicorn_log_config
from streams.cluster.routing import ASGIApp
from streams.config import StreamsConfig
from streams.http.app import create_app
from streams.relay import Relay
from streams.spec import CameraSpec


async def serve(
    cameras: Sequence[CameraConfig],
    settings: StreamsConfig,
    secret: str,
    clips_dir: Path,
    wrap: Callable[[ASGIApp], ASGIApp] | None = None,
    verify_secrets: Sequence[str] = (),
    owns: Callable[[str], bool] | None = None,
    resume_file: Path | None = None,
) -> int:
    """Pull ``cameras`` and serve them over RTSP and HTTP until SIGINT/SIGTERM."""
    specs = [CameraSpec.from_config(c) for c in cameras]
    relay = Relay(specs, settings, secret, clips_dir, verify_secrets, owns, resume_file)
    await relay.start()
    app = create_app(relay)
    server = uvicorn.Server(
        uvicorn.Config(
            wrap(app) if wrap else app,
            host=settings.http_host,
            port=settings.http_port,
            log_level="warning",
            log_config=uvicorn_log_config(),
            lifespan="off",
        )
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if server.started:
        port = server.servers[0].sockets[0].getsockname()[1]
        print(
            f"relay: ready http={settings.http_host}:{port} "
            f"rtsp={settings.rtsp_host}:{relay.rtsp_port}",
            flush=True,
        )
    try:
        async with sdnotify.supervised():  # systemd: Type=notify, WatchdogSec= (deploy/systemd)
            await task
    finally:
        await relay.close()
    return 0
