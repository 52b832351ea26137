"""``cityhub config check FILE`` and ``cityhub config schema``."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from core.config import ConfigError
from core.files import exposed
from hub.config import CityConfig, load_config, weak_secret

#: Keys whose values are secrets, and URLs with a password in them.
SECRET_IN_FILE = re.compile(
    r"(?im)^\s*(secret_key|play_secret|password|credentials_key|service_token)\s*:"
    r"|://[^/\s:@]+:[^@\s]+@"
)


def _check(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    for warning in exposure_warnings(Path(args.file), cfg):
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"{args.file}: ok ({len(cfg.departments)} departments, {len(cfg.sites)} sites, "
        f"{len(cfg.cameras)} cameras, {len(cfg.sensors)} sensors)"
    )
    return 0


def exposure_warnings(path: Path, cfg: CityConfig) -> list[str]:
    """What a security review would flag in a configuration that is otherwise valid."""
    out = []
    text = path.read_text(encoding="utf-8")
    if exposed(path) and SECRET_IN_FILE.search(text):
        out.append(f"{path} holds secrets and is readable by other users: chmod 600 it "
                   "(or move the secrets to the environment)")
    weak = weak_secret(cfg.hub.secret_key.get_secret_value())
    if weak:
        out.append(f"{weak}; the hub refuses to serve with it")
    return out


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(CityConfig.model_json_schema(), indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("config", help="validate a configuration file or print its schema")
    csub = p.add_subparsers(dest="config_command", required=True)
    c = csub.add_parser("check", help="validate a YAML configuration; errors name the field path")
    c.add_argument("file")
    c.set_defaults(func=_check)
    s = csub.add_parser(
        "schema", help="print the configuration's JSON Schema with every field documented"
    )
    s.set_defaults(func=_schema)
