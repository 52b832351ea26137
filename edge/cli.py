"""``cityhub edge --config site.yaml`` (run the agent) and ``cityhub edge check``."""

from __future__ import annotations

import argparse
import asyncio
import signal

from core.config_commands import add_config_commands
from core.files import exposed
from edge.config import EdgeConfig, load_edge_config


def _run(args: argparse.Namespace) -> int:
    config = load_edge_config(args.config)  # a ConfigError is answered by ``cityhub``
    from edge.agent import EdgeAgent  # noqa: PLC0415  lazy: GStreamer/OpenCV load to run, not for --help

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await EdgeAgent(config).run(stop)

    asyncio.run(main())
    return 0


def _describe(cfg: EdgeConfig) -> str:
    return (f"device {cfg.device}, site {cfg.site.id}, {len(cfg.cameras)} cameras, "
            f"{len(cfg.push.devices)} push devices")


def _warnings(cfg: EdgeConfig) -> list[str]:
    """What a security review would flag in a valid site.yaml's push section."""
    push = cfg.push
    out = []
    if push.allow_anonymous:
        out.append("push.allow_anonymous is true: anyone who reaches the listener may push events")
    elif cfg.adapters and not push.devices:
        out.append("adapters are enabled but push.devices is empty: every push will be refused")
    for i, d in enumerate(push.devices):
        if d.password_file is not None and exposed(d.password_file):
            out.append(f"push.devices.{i}.password_file {d.password_file} is readable by other "
                       "users: chmod 600 it")
        if d.basic:
            out.append(f"push.devices.{i}.basic: device {d.id} may send its password in clear")
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edge", help="run the edge-box agent (analytics, outbox, MQTT uplink)")
    p.add_argument("--config", default="/etc/cityhub/site.yaml", help="the box's site.yaml")
    p.set_defaults(func=_run)
    esub = p.add_subparsers(dest="edge_command")
    add_config_commands(
        esub, EdgeConfig, load_edge_config, _describe, "site.yaml", path=lambda a: a.config,
        warnings=_warnings,
    )
