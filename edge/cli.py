"""``cityhub edge --config site.yaml`` (run the agent) and ``cityhub edge check``."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

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


def _check(args: argparse.Namespace) -> int:
    try:
        cfg = load_edge_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(
        f"{args.config}: ok (device {cfg.device}, site {cfg.site.id}, {len(cfg.cameras)} cameras)"
    )
    return 0


def _schema(_args: argparse.Namespace) -> int:
    print(json.dumps(EdgeConfig.model_json_schema(), indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edge", help="run the edge-box agent (analytics, outbox, MQTT uplink)")
    p.add_argument("--config", default="/etc/cityhub/site.yaml", help="the box's site.yaml")
    p.set_defaults(func=_run)
    esub = p.add_subparsers(dest="edge_command")
    c = esub.add_parser("check", help="validate site.yaml; errors name the field path")
    c.set_defaults(func=_check)
    s = esub.add_parser("schema", help="print site.yaml's JSON Schema")
    s.set_defaults(func=_schema)
