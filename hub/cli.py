"""The ``cityhub`` command.

Each capability contributes its subcommands from its own module: a module
listed in ``COMMAND_MODULES`` has ``register(subparsers)`` that adds parsers
whose ``func`` default is called with the parsed arguments.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from hub.logging import setup_logging

#: Modules that add subcommands, in the order they appear in ``--help``.
COMMAND_MODULES = [
    "hub.demo.cli",  # demo
    "hub.config_cli",  # config check / schema
    "hub.store.cli",  # db upgrade / current
    "hub.ingest.cli",  # ingest (MQTT ingest workers)
    "hub.ingest.simulate",  # simulate <system> --rate N
    "hub.api.cli",  # hub (API server, departments, users)
    "hub.audit.cli",  # audit verify / export-root
    "hub.broker_users",  # broker users (per-edge-box MQTT users and ACLs)
    "streams.cli",  # relay
    "edge.cli",  # edge (the edge-box agent)
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cityhub", description="cityhub: a city's shared video and IoT hub"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--log-json",
        action="store_true",
        default=os.environ.get("CITYHUB_LOG_JSON") == "1",
        help="one JSON object per log line (default under CITYHUB_LOG_JSON=1: containers, systemd)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    setup_logging(
        json=args.log_json,
        level=logging.DEBUG if args.verbose else logging.INFO,
        service=os.environ.get("CITYHUB_SERVICE", f"cityhub-{args.command}"),
    )
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        result = 130
    sys.exit(result or 0)
