"""``check`` and ``schema``: one way for every component to validate its configuration file
and print its documented JSON Schema (``cityhub config ...``, ``cityhub edge ...``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from core.config import ConfigError


def add_config_commands(
    sub: argparse._SubParsersAction,
    model: type[BaseModel],
    load: Callable[[str], Any],
    describe: Callable[[Any], str],
    what: str = "a YAML configuration",
    path: Callable[[argparse.Namespace], str] | None = None,
) -> None:
    """Add ``check`` (with a FILE argument unless ``path`` takes it from elsewhere) and
    ``schema`` to ``sub``; ``describe`` summarises a valid configuration in one line."""

    def check(args: argparse.Namespace) -> int:
        file = path(args) if path else args.file
        try:
            config = load(file)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"{file}: ok ({describe(config)})")
        return 0

    def schema(_args: argparse.Namespace) -> int:
        print(json.dumps(model.model_json_schema(), indent=2))
        return 0

    c = sub.add_parser("check", help=f"validate {what}; errors name the field path")
    if path is None:
        c.add_argument("file")
    c.set_defaults(func=check)
    s = sub.add_parser("schema", help=f"print the JSON Schema of {what}, every field documented")
    s.set_defaults(func=schema)
