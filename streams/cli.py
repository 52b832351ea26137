"""``cityhub relay``: pull every configured camera, serve RTSP + HTTP (WHEP, snapshots, clips)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("relay", help="run the stream relay (RTSP re-serve, WHEP, snapshots, clips)")
    p.add_argument("--config", type=Path, help="city YAML (cameras + streams section)")
    p.add_argument("--http-port", type=int, help="override streams.http_port")
    p.add_argument("--rtsp-port", type=int, help="override streams.rtsp_port")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hub.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    settings = config.streams
    updates = {
        k: v
        for k, v in (("http_port", args.http_port), ("rtsp_port", args.rtsp_port))
        if v is not None
    }
    if updates:
        settings = settings.model_copy(update=updates)
    secret = (settings.play_secret or config.hub.secret_key).get_secret_value()
    clips_dir = Path(settings.clips_dir) if settings.clips_dir else config.state_dir / "clips"
    from streams.cluster.routing import shard_relay

    try:  # in a relay cluster: only this node's cameras; the rest redirect to their owners
        cameras, wrap = shard_relay(config)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    return asyncio.run(serve(cameras, settings, secret, clips_dir, wrap))


async def serve(cameras: list, settings, secret: str, clips_dir: Path, wrap=None) -> int:  # type: ignore[no-untyped-def]
    import uvicorn

    from streams.http.app import create_app
    from streams.relay import CameraSpec, Relay

    relay = Relay([CameraSpec.from_config(c) for c in cameras], settings, secret, clips_dir)
    await relay.start()
    app = create_app(relay)
    server = uvicorn.Server(
        uvicorn.Config(
            wrap(app) if wrap else app,
            host=settings.http_host,
            port=settings.http_port,
            log_level="warning",
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
        await task
    finally:
        await relay.close()
    return 0
