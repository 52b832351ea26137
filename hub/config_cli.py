"""``cityhub config check FILE`` and ``cityhub config schema``."""

from __future__ import annotations

import argparse

from core.config_commands import add_config_commands
from hub.config import CityConfig, load_config, weak_secret


def _describe(cfg: CityConfig) -> str:
    return (
        f"{len(cfg.departments)} departments, {len(cfg.sites)} sites, "
        f"{len(cfg.cameras)} cameras, {len(cfg.sensors)} sensors"
    )


def _warnings(cfg: CityConfig) -> list[str]:
    out = []
    weak = weak_secret(cfg.hub.secret_key.get_secret_value())
    if weak:
        out.append(f"{weak}; the hub and the relay refuse to serve with it")
    if cfg.streams.require_token and not cfg.streams.hub_url:
        out.append("streams.hub_url is not set: the relay cannot ask the hub, so a revoked "
                   "grant, a disabled user or a logout does not end live views")
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="validate a configuration file or print its schema")
    csub = p.add_subparsers(dest="config_command", required=True)
    add_config_commands(csub, CityConfig, load_config, _describe, warnings=_warnings)
