"""``cityhub sip``: run the GB/T 28181 SIP service, or list its devices, channels,
registrations, sessions, refused registrations, upper platforms and upward shares from
the store."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from hub.config import load_config

log = logging.getLogger(__name__)

LISTS = {
    "devices": "SELECT id, name, kind, department_id, site_id, online, transport, contact_host,"
               " contact_port, last_seen, expires_at, catalog_complete FROM gb_devices ORDER BY id",
    "registrations": "SELECT id, transport, contact_host, contact_port, registered_at,"
                     " expires_at, last_seen, online, instance FROM gb_devices"
                     " WHERE registered_at IS NOT NULL ORDER BY id",
    "channels": "SELECT device_id, id, camera_id, name, status, civil_code, lat, lon, retired_at"
                " FROM gb_channels ORDER BY device_id, id",
    "sessions": "SELECT call_id, device_id, channel_id, ssrc, transport, direction, started_at,"
                " ended_at, end_reason FROM gb_sessions ORDER BY started_at DESC LIMIT 200",
    "refusals": "SELECT at, device_id, peer, reason FROM gb_refusals ORDER BY at DESC LIMIT 200",
    "uppers": "SELECT id, name, host, port, transport, local_id, enabled, registered,"
              " registered_at, last_keepalive_at, last_error, catalog_sent, catalog_total"
              " FROM gb_uppers ORDER BY id",
    "shares": "SELECT upper_id, channel_id, camera_id, department_id, playback, created_by,"
              " created_at, revoked_at FROM gb_upper_shares ORDER BY upper_id, channel_id",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sip", help="GB/T 28181 SIP service (serve) and its state (lists)")
    p.add_argument("what", nargs="?", default="serve", choices=["serve", *LISTS],
                   help="serve, or what to list")
    p.add_argument("--config", type=Path, help="city YAML (gb28181 section)")
    p.add_argument("--dsn", help="PostgreSQL URL (default: database.url of --config)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = (load_config(args.config, database={"url": args.dsn}) if args.dsn
              else load_config(args.config))
    if config.database.url is None:
        log.error("database.url is required")
        return 2
    if args.what == "serve":
        from hub.gb28181.runner import serve  # noqa: PLC0415  lazy: the SIP service loads to serve, not for --help

        try:
            asyncio.run(serve(config))
        except KeyboardInterrupt:
            pass
        return 0
    with psycopg.connect(config.database.url.get_secret_value()) as conn:
        rows: list[dict[str, Any]] = conn.cursor(row_factory=dict_row).execute(
            LISTS[args.what]).fetchall()
    for row in rows:
        print(json.dumps(row, default=str, ensure_ascii=False))
    return 0
