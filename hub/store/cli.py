"""``cityhub db upgrade|current``: the store's schema."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from dataclasses import asdict

import psycopg

from hub.config import load_config
from hub.store import migrate
from hub.store.maintain import maintain


def _dsn(args: argparse.Namespace) -> str:
    if args.dsn:
        return str(args.dsn)
    cfg = load_config(args.config)
    if cfg.database.url is None:
        raise SystemExit("no database: pass --dsn or set database.url / CITYHUB_DATABASE__URL")
    return cfg.database.url.get_secret_value()


def _upgrade(args: argparse.Namespace) -> int:
    migrate.upgrade(_dsn(args), args.revision)
    return 0


def _current(args: argparse.Namespace) -> int:
    print(migrate.current(_dsn(args)) or "(empty database)")
    return 0


def _maintain(args: argparse.Namespace) -> int:
    store_cfg = load_config(args.config).store
    log = logging.getLogger("cityhub.store")

    async def once() -> None:
        async with await psycopg.AsyncConnection.connect(_dsn(args), autocommit=True) as conn:
            print(json.dumps(asdict(await maintain(conn, store_cfg))), flush=True)

    async def loop() -> None:
        while True:
            try:
                await once()
            except psycopg.OperationalError as exc:  # database away: try again next round
                log.warning("maintenance failed: %s", exc)
            await asyncio.sleep(args.every)

    asyncio.run(loop() if args.every else once())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="database schema: upgrade, current revision, maintain")
    p.add_argument("--config", help="cityhub YAML configuration")
    p.add_argument("--dsn", help="database URL (overrides the configuration)")
    dsub = p.add_subparsers(dest="db_command", required=True)
    u = dsub.add_parser("upgrade", help="apply migrations up to a revision (default: head)")
    u.add_argument("revision", nargs="?", default="head")
    u.set_defaults(func=_upgrade)
    c = dsub.add_parser("current", help="print the database's current revision")
    c.set_defaults(func=_current)
    m = dsub.add_parser("maintain", help="create partitions ahead, drop expired data, set policies")
    m.add_argument(
        "--every", type=float, default=0, help="repeat every so many seconds (default: once)"
    )
    m.set_defaults(func=_maintain)
