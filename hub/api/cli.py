"""``cityhub hub``: run the API with uvicorn; add departments and users."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys

import psycopg

from core.logging import uvicorn_log_config
from hub.auth import accounts
from hub.auth.roles import Role
from hub.config import MIN_SECRET_CHARS, CityConfig, load_config, weak_secret

log = logging.getLogger(__name__)


def _config(args: argparse.Namespace) -> CityConfig:
    cfg = load_config(args.config, **({"database": {"url": args.dsn}} if args.dsn else {}))
    if cfg.database.url is None:
        raise SystemExit("no database: set database.url / CITYHUB_DATABASE__URL")
    return cfg


def _serve(args: argparse.Namespace) -> int:
    # lazy: the API and its server load only to serve, keeping `cityhub --help` fast
    import uvicorn  # noqa: PLC0415

    from hub.api.app import create_app  # noqa: PLC0415

    cfg = _config(args)
    host = args.host or cfg.hub.host
    port = args.port if args.port is not None else cfg.hub.port
    weak = weak_secret(cfg.hub.secret_key.get_secret_value())
    if weak:  # anyone who knows the key forges tokens: never serve with it
        log.error("refusing to start: %s (at least %d random characters)", weak, MIN_SECRET_CHARS)
        return 2
    uvicorn.run(
        create_app(cfg),
        host=host,
        port=port,
        log_level="info",
        log_config=uvicorn_log_config(),
        access_log=False,
        proxy_headers=False,
    )
    return 0


def _owner(cfg: CityConfig) -> psycopg.Connection:
    assert cfg.database.url is not None
    return psycopg.connect(cfg.database.url.get_secret_value(), autocommit=True)


def _add_department(args: argparse.Namespace) -> int:
    with _owner(_config(args)) as conn:
        conn.execute(
            "INSERT INTO departments (id, name) VALUES (%s, %s) ON CONFLICT (id)"
            " DO UPDATE SET name = excluded.name",
            (args.id, args.name),
        )
    return 0


def _add_user(args: argparse.Namespace) -> int:
    password = os.environ.get("CITYHUB_NEW_PASSWORD") or (
        sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    )
    if len(password) < 12:
        raise SystemExit("password must have at least 12 characters")
    roles = [Role(r).value for r in args.roles.split(",") if r]
    with _owner(_config(args)) as conn:
        accounts.create_user(conn, args.username, password, args.department, roles)
    print(f"user {args.username} ({args.department}: {', '.join(roles)}) created")
    return 0


def _seed(args: argparse.Namespace) -> int:
    from hub.api.seed import seed  # noqa: PLC0415  lazy: keeps `cityhub --help` fast

    for name, password, dept, roles in seed(_config(args), demo_users=args.demo_users):
        print(f"  {name:<22} {password}  ({dept}: {', '.join(roles)})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hub", help="run the hub API; add departments and users")
    p.add_argument("--config", help="cityhub YAML configuration")
    p.add_argument("--dsn", help="database URL as the tables' owner (overrides the configuration)")
    hsub = p.add_subparsers(dest="hub_command")
    p.set_defaults(func=_serve, host=None, port=None)
    s = hsub.add_parser("serve", help="run the API (default)")
    s.add_argument("--host", help="listen address (default hub.host)")
    s.add_argument("--port", type=int, help="port (default hub.port)")
    s.set_defaults(func=_serve)
    d = hsub.add_parser("add-department", help="create or rename a department")
    d.add_argument("id")
    d.add_argument("name")
    d.set_defaults(func=_add_department)
    u = hsub.add_parser(
        "add-user", help="create a user (password from a prompt, stdin or CITYHUB_NEW_PASSWORD)"
    )
    u.add_argument("username")
    u.add_argument("--department", required=True)
    u.add_argument("--roles", required=True, help="comma-separated: admin,operator,analyst,auditor")
    u.add_argument("--password-stdin", action="store_true")
    u.set_defaults(func=_add_user)
    e = hsub.add_parser("seed", help="migrate, load the registry and camera credentials from the "
                        "configuration")
    e.add_argument("--demo-users", action="store_true", help="also create demo logins and a grant")
    e.set_defaults(func=_seed)
