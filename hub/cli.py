"""The ``cityhub`` command.

Each capability contributes its subcommands from its own module, named in the
``cityhub.commands`` entry-point group (pyproject.toml): the module has
``register(subparsers)`` that adds parsers whose ``func`` default is called with
the parsed arguments (a ``ConfigError`` it raises is answered here: the message, exit 2).
A module whose dependencies are not installed (an edge box installs ``cityhub[edge]``
without the hub's) is left out of ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from importlib.metadata import entry_points

from core.config import ConfigError
from core.logging import setup_logging

log = logging.getLogger(__name__)

#: cityhub's own top-level packages.
OWN_PACKAGES = {"core", "adapters", "streams", "edge", "hub", "devkit", "bench"}

#: Order of the commands in ``--help``; any other registered command follows.
ORDER = ["demo", "config", "db", "ingest", "simulate", "hub", "audit", "broker", "relay", "edge"]


def command_modules(only: str | None = None) -> list[str]:
    """Modules of the installed ``cityhub.commands`` entry points, in ``ORDER``; with
    ``only`` (a command's name), that command's module alone."""
    found = {ep.name: ep.value for ep in entry_points(group="cityhub.commands")}
    if only in found:
        return [found[only]]
    rank = {name: i for i, name in enumerate(ORDER)}
    return [found[n] for n in sorted(found, key=lambda n: (rank.get(n, len(ORDER)), n))]


def command_in(argv: list[str]) -> str | None:
    """The command named on the line (the first word that is not an option): a process
    that a supervisor restarts imports that command's module only, not every command's
    (``cityhub hub serve`` then starts without the relay's media stack)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
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
    for name in command_modules(only):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an extra that is not installed here
            if (exc.name or "").split(".")[0] in OWN_PACKAGES:
                raise  # our own code is broken: say so, never hide a command
            log.debug("command module %s unavailable: %s", name, exc)
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(command_in(argv)).parse_args(argv)
    setup_logging(
        json=args.log_json,
        level=logging.DEBUG if args.verbose else logging.INFO,
        service=os.environ.get("CITYHUB_SERVICE", f"cityhub-{args.command}"),
    )
    try:
        result = args.func(args)
    except ConfigError as exc:  # every command's bad configuration file: what is wrong, exit 2
        print(exc, file=sys.stderr)
        result = 2
    except KeyboardInterrupt:
        result = 130
    sys.exit(result or 0)
