"""``cityhub db upgrade|current|maintain|backup|restore``: the store's schema and safety."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict
from datetime import datetime

import psycopg

from core.periodic import every
from hub.config import load_config
from hub.ops import backup
from hub.store import migrate
from hub.store.maintain import maintain
from hub.store.roles import API_ROLE, set_role_password


def _dsn(args: argparse.Namespace) -> str:
    if args.dsn:
        return str(args.dsn)
    cfg = load_config(args.config)
    if cfg.database.url is None:
        raise SystemExit("no database: pass --dsn or set database.url / CITYHUB_DATABASE__URL")
    return cfg.database.url.get_secret_value()


def _upgrade(args: argparse.Namespace) -> int:
    dsn = _dsn(args)
    migrate.upgrade(dsn, args.revision)
    api_password = load_config(args.config).access.api_role_password
    if api_password is not None:  # SCRAM servers: the API role needs a password to log in
        set_role_password(dsn, API_ROLE, api_password.get_secret_value())
    return 0


def _current(args: argparse.Namespace) -> int:
    print(migrate.current(_dsn(args)) or "(empty database)")
    return 0


def _maintain(args: argparse.Namespace) -> int:
    store_cfg = load_config(args.config).store

    async def once() -> None:
        async with await psycopg.AsyncConnection.connect(_dsn(args), autocommit=True) as conn:
            print(json.dumps(asdict(await maintain(conn, store_cfg))), flush=True)

    if not args.every:
        asyncio.run(once())
        return 0
    # The database away is tried again next round; anything else is a bug and stops it.
    asyncio.run(every(args.every, once, "maintenance", at_once=True,
                      survives=(psycopg.OperationalError,)))
    return 0


def _backup(args: argparse.Namespace) -> int:
    if args.list:
        print(json.dumps([asdict(b) for b in backup.list_backups(args.repo)], indent=2))
        return 0
    try:
        if args.setup:
            restart = backup.enable_archiving(_dsn(args), args.repo, args.archive_timeout)
            print("archiving set; restart PostgreSQL now" if restart else "archiving is on")
            return 0
        print(json.dumps(asdict(backup.base_backup(_dsn(args), args.repo)), indent=2))
    except backup.BackupError as exc:
        raise SystemExit(str(exc)) from exc
    return 0


def _restore(args: argparse.Namespace) -> int:
    target = datetime.fromisoformat(args.target_time) if args.target_time else None
    if target is not None and target.tzinfo is None:
        raise SystemExit("--target-time needs a zone, e.g. 2026-12-05T13:00:00+08:00")
    try:
        chosen = backup.prepare_restore(args.repo, args.data_dir, target, args.owner)
    except backup.BackupError as exc:
        raise SystemExit(str(exc)) from exc
    print(f"restored base backup {chosen.path} into {args.data_dir}; start PostgreSQL on it:")
    print("it replays archived WAL up to the target, promotes, and accepts writes")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "db", help="database: schema upgrade, current revision, maintain, backup, restore"
    )
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
    b = dsub.add_parser(
        "backup",
        help="base backup (pg_basebackup) into a repository that also holds the WAL archive",
    )
    b.add_argument("--repo", required=True, help="backup repository directory (other disk/NAS)")
    b.add_argument(
        "--setup", action="store_true", help="turn on WAL archiving into the repository (restart)"
    )
    b.add_argument(
        "--archive-timeout", type=int, default=60, help="with --setup: archive at least every N s"
    )
    b.add_argument("--list", action="store_true", help="list the repository's base backups")
    b.set_defaults(func=_backup)
    r = dsub.add_parser(
        "restore", help="prepare a fresh data directory that recovers to a point in time"
    )
    r.add_argument("--repo", required=True, help="backup repository directory")
    r.add_argument("--data-dir", required=True, help="new, empty PostgreSQL data directory")
    r.add_argument("--target-time", help="ISO time with zone; default: the end of the archive")
    r.add_argument("--owner", help="user the server runs as (files are chowned to it)")
    r.set_defaults(func=_restore)
