"""``cityhub recordings verify`` (tamper check of every recorded camera) and
``cityhub recordings anchor`` (chain heads into the audit log, so the signed daily root
pins them)."""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path
from typing import Any

import psycopg

from hub.config import load_config
from hub.recordings_index import anchor, anchored_heads, index_camera
from streams.recording.layout import Layout
from streams.recording.verify import verify_camera


def _layout(args: argparse.Namespace) -> tuple[Layout, list[str], Any]:
    cfg = load_config(args.config)
    settings = cfg.streams.recording
    clips = Path(cfg.streams.clips_dir) if cfg.streams.clips_dir else cfg.state_dir / "clips"
    cameras = [args.camera] if args.camera else sorted(settings.cameras)
    return Layout.of(settings, clips.parent / "recordings"), cameras, cfg


def _dsn(args: argparse.Namespace, cfg: Any) -> str | None:
    if args.dsn:
        return str(args.dsn)
    return cfg.database.url.get_secret_value() if cfg.database.url else None


def _verify(args: argparse.Namespace) -> int:
    layout, cameras, cfg = _layout(args)
    dsn = _dsn(args, cfg) if args.anchored else None
    anchors = anchored_heads(dsn) if dsn else {}
    reports = [
        verify_camera(cam, layout.journal_dir(cam), layout.camera_dirs(cam), anchors.get(cam))
        for cam in cameras
    ]
    print(json.dumps([r.as_dict() for r in reports], indent=2))
    ok = all(r.ok for r in reports)
    for r in reports:
        for p in r.problems:
            print(f"{r.camera_id}: {p.kind}: {p.what}: {p.detail}", file=sys.stderr)
    print("recordings OK" if ok else "recordings FAILED verification", file=sys.stderr)
    return 0 if ok else 1


def _anchor(args: argparse.Namespace) -> int:
    layout, cameras, cfg = _layout(args)
    dsn = _dsn(args, cfg)
    if not dsn:
        raise SystemExit("no database: pass --dsn or set database.url")
    with psycopg.connect(dsn) as conn:
        heads = anchor(conn, {cam: layout.journal_dir(cam) for cam in cameras})
    print(json.dumps(heads, indent=2))
    return 0


def _index(args: argparse.Namespace) -> int:
    layout, cameras, cfg = _layout(args)
    dsn = _dsn(args, cfg)
    if not dsn:
        raise SystemExit("no database: pass --dsn or set database.url")
    with psycopg.connect(dsn) as conn:
        counts = {
            cam: index_camera(conn, cam, layout.journal_dir(cam), args.node or socket.gethostname())
            for cam in cameras
        }
    print(json.dumps(counts))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recordings", help="verify recorded footage; anchor its hash chains")
    p.add_argument("--config", type=Path, help="city YAML (streams.recording)")
    p.add_argument("--dsn", help="database URL (overrides the configuration)")
    p.add_argument("--camera", help="only this camera")
    rsub = p.add_subparsers(dest="recordings_command", required=True)
    v = rsub.add_parser(
        "verify", help="name altered, deleted, inserted or reordered segments (exit 1 if any)"
    )
    v.add_argument(
        "--anchored", action="store_true", help="also check the heads anchored in the audit log"
    )
    v.set_defaults(func=_verify)
    a = rsub.add_parser("anchor", help="write every camera's chain head into the audit log")
    a.set_defaults(func=_anchor)
    i = rsub.add_parser("index", help="copy the segment journals into the store's index")
    i.add_argument("--node", help="this relay node's name (default: the host name)")
    i.set_defaults(func=_index)
