"""``cityhub COMMAND``: a process imports its own command's module, not every command's, so
that a part a supervisor restarts (hub, relay, ingest) serves again sooner."""

from __future__ import annotations

import argparse
import subprocess
import sys

from hub.cli import build_parser, command_in


def test_the_command_is_the_first_word_that_is_not_an_option() -> None:
    assert command_in(["-v", "--log-json", "hub", "serve", "--port", "1"]) == "hub"
    assert command_in(["--help"]) is None
    assert command_in([]) is None


def commands(only: str | None) -> list[str]:
    sub = next(a for a in build_parser(only)._actions
               if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_a_named_command_registers_alone_and_help_lists_every_command() -> None:
    every = commands(None)
    assert commands("db") == ["db"]
    assert {"demo", "db", "hub", "relay", "ingest", "edge"} <= set(every)
    assert commands("nosuch") == every  # argparse then says which commands exist


def test_the_hub_command_does_not_import_the_media_stack() -> None:
    code = ("import sys; from hub.cli import build_parser; build_parser('hub');"
            " print('streams.http.app' in sys.modules, 'aiortc' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == ["False", "False"]


def test_the_hub_api_loads_without_the_relay_and_the_rarely_used_libraries() -> None:
    """A hub killed under load must serve again within seconds (bench.soak, target 5 s), and
    its start is mostly imports: the relay's media stack, the ONVIF client and the xlsx
    writer are loaded where they are used, not when the API is built."""
    heavy = ["gi", "av", "aiortc", "streams.relay", "zeep", "aiohttp", "openpyxl", "numpy"]
    code = (f"import sys, hub.api.app; print(*[m for m in {heavy!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == []
