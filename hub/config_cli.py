"""``cityhub config check FILE`` and ``cityhub config schema``."""

from __future__ import annotations

import argparse
import json
import sys

from core.config import ConfigError
from hub.config import CityConfig, load_config


def _check(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(
        f"{args.file}: ok ({len(cfg.departments)} departments, {len(cfg.sites)} sites, "
        f"{len(cfg.cameras)} cameras, {len(cfg.sensors)} sensors)"
    )
    return 0


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(CityConfig.model_json_schema(), indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="validate a configuration file or print its schema")
    csub = p.add_subparsers(dest="config_command", required=True)
    c = csub.add_parser("check", help="validate a YAML configuration; errors name the field path")
    c.add_argument("file")
    c.set_defaults(func=_check)
    s = csub.add_parser(
        "schema", help="print the configuration's JSON Schema with every field documented"
    )
    s.set_defaults(func=_schema)
