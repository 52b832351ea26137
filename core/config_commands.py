"""``check`` and ``schema``: one way for every component to validate its configuration file
and print its documented JSON Schema (``cityhub config ...``, ``cityhub edge ...``)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from core.config import ConfigError
from core.files import exposed

#: Keys whose values are secrets, and URLs with a password in them.
SECRET_IN_FILE = re.compile(
    r"(?im)^\s*(secret_key|play_secret|password|credentials_key|service_token)\s*:"
    r"|://[^/\s:@]+:[^@\s]+@"
)


def exposure_warning(file: str) -> str | None:
    """A warning when a configuration file holding secrets is readable by other users."""
    path = Path(file)
    if exposed(path) and SECRET_IN_FILE.search(path.read_text(encoding="utf-8")):
        return (f"{path} holds secrets and is readable by other users: chmod 600 it "
                "(or move the secrets to the environment)")
    return None


def add_config_commands(
    sub: argparse._SubParsersAction,
    model: type[BaseModel],
    load: Callable[[str], Any],
    describe: Callable[[Any], str],
    what: str = "a YAML configuration",
    path: Callable[[argparse.Namespace], str] | None = None,
    warnings: Callable[[Any], list[str]] | None = None,
) -> None:
    """Add ``check`` (with a FILE argument unless ``path`` takes it from elsewhere) and
    ``schema`` to ``sub``; ``describe`` summarises a valid configuration in one line and
    ``warnings`` lists what a security review would flag in a valid one."""

    def check(args: argparse.Namespace) -> int:
        file = path(args) if path else args.file
        try:
            config = load(file)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        exposure = exposure_warning(file)
        for warning in [*([exposure] if exposure else []), *(warnings(config) if warnings else [])]:
            print(f"warning: {warning}", file=sys.stderr)
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
