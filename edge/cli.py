"""``cityhub edge --config site.yaml`` (run the agent) and ``cityhub edge check``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from core.config_commands import add_config_commands
from edge.config import ConfigError, EdgeConfig, load_edge_config


def _run(args: argparse.Namespace) -> int:
    try:
        config = load_edge_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from edge.agent import EdgeAgent  # lazy: GStreamer/OpenCV load only to run, not for --help

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await EdgeAgent(config).run(stop)

    asyncio.run(main())
    return 0


def _describe(cfg: EdgeConfig) -> str:
    return f"device {cfg.device}, site {cfg.site.id}, {len(cfg.cameras)} cameras"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edge", help="run the edge-box agent (analytics, outbox, MQTT uplink)")
    p.add_argument("--config", default="/etc/cityhub/site.yaml", help="the box's site.yaml")
    p.set_defaults(func=_run)
    esub = p.add_subparsers(dest="edge_command")
    add_config_commands(
        esub, EdgeConfig, load_edge_config, _describe, "site.yaml", path=lambda a: a.config
    )
