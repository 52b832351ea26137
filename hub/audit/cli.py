"""``cityhub audit verify`` and ``cityhub audit export-root``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from hub.audit import chain, roots, signing
from hub.config import load_config


def _conn(args: argparse.Namespace) -> psycopg.Connection:
    dsn = args.dsn
    if not dsn:
        cfg = load_config(args.config)
        if cfg.database.url is None:
            raise SystemExit("no database: pass --dsn or set database.url / CITYHUB_DATABASE__URL")
        dsn = cfg.database.url.get_secret_value()
    return psycopg.connect(dsn, autocommit=True)


def _verify(args: argparse.Namespace) -> int:
    with _conn(args) as conn:
        result = chain.verify(conn)
        report = result.as_dict()
        root_problems = []
        if args.roots:
            public = (
                signing.load_public(Path(args.public_key).read_bytes()) if args.public_key else None
            )
            for path in sorted(Path(args.roots).glob("audit-root-*.json")):
                problem = roots.check_root(conn, json.loads(path.read_text()), public)
                if problem:
                    root_problems.append(problem)
        report["root_problems"] = root_problems
    print(json.dumps(report, indent=2))
    ok = result.ok and not root_problems
    print("audit log OK" if ok else "audit log FAILED verification", file=sys.stderr)
    return 0 if ok else 1


def _export_root(args: argparse.Namespace) -> int:
    cfg = load_config(args.config) if args.config or not args.dsn else None
    state = cfg.state_dir if cfg else Path(".cityhub")
    key_path = (
        Path(args.key)
        if args.key
        else ((cfg and cfg.access.signing_key_file) or state / "keys" / "evidence-ed25519.pem")
    )
    out = (
        Path(args.out)
        if args.out
        else ((cfg and cfg.access.audit_roots_dir) or state / "audit-roots")
    )
    day = (
        date.fromisoformat(args.date)
        if args.date
        else (datetime.now(UTC) - timedelta(days=1)).date()
    )
    with _conn(args) as conn:
        path = roots.export(conn, day, signing.load_or_create(Path(key_path)), Path(out))
    print(path)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="verify the hash-chained audit log; export daily roots")
    p.add_argument("--config", help="cityhub YAML configuration")
    p.add_argument("--dsn", help="database URL (overrides the configuration)")
    asub = p.add_subparsers(dest="audit_command", required=True)
    v = asub.add_parser(
        "verify", help="detect edited, deleted or reordered entries (exit 1 if any)"
    )
    v.add_argument("--roots", help="folder of exported daily roots to check the chain against")
    v.add_argument("--public-key", help="PEM public key the roots must be signed with")
    v.set_defaults(func=_verify)
    e = asub.add_parser("export-root", help="write the signed chain head at the end of a UTC day")
    e.add_argument("--date", help="YYYY-MM-DD (default: yesterday, UTC)")
    e.add_argument("--out", help="folder (default: access.audit_roots_dir)")
    e.add_argument("--key", help="Ed25519 private key PEM (default: access.signing_key_file)")
    e.set_defaults(func=_export_root)
