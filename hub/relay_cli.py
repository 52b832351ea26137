"""``cityhub relay``: pull every configured camera, serve RTSP + HTTP (WHEP, snapshots, clips)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from hub.config import load_config, weak_secret
from streams.cluster.routing import shard_relay
from streams.cluster.sharding import ShardMap
from streams.resume import resume_file
from streams.standby import ActiveLock, holder, lock_path, stand_by

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("relay", help="run the stream relay (RTSP re-serve, WHEP, snapshots, clips)")
    p.add_argument("--config", type=Path, help="city YAML (cameras + streams section)")
    p.add_argument("--http-port", type=int, help="override streams.http_port")
    p.add_argument("--rtsp-port", type=int, help="override streams.rtsp_port")
    p.add_argument("--standby", action="store_true",
                   help="if another relay is active on this state directory, wait (imported, "
                   "warm) and take over the moment it ends (streams/standby.py)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    lock = ActiveLock(lock_path(config.state_dir, config.cluster.node_id))
    took_over = False
    if not lock.try_acquire():
        if not args.standby:
            log.error("refusing to start: relay pid %s is active on %s (--standby waits to "
                      "take over)", holder(lock.path), config.state_dir)
            return 2
        if not asyncio.run(stand_by(lock)):
            return 0  # stopped while standing by
        config, took_over = load_config(args.config), True  # the config as it is now
    lock.claim(took_over)
    # Imported here: a new standby loads the media stack only once the host has settled.
    from streams.server import serve  # noqa: PLC0415
    settings = config.streams
    updates = {
        k: v
        for k, v in (("http_port", args.http_port), ("rtsp_port", args.rtsp_port))
        if v is not None
    }
    if updates:
        settings = settings.model_copy(update=updates)
    secret = (settings.play_secret or config.hub.secret_key).get_secret_value()
    weak = weak_secret(secret)
    if weak:  # the relay trusts any play token signed with it: never serve with a known key
        log.error("refusing to start: %s (or streams.play_secret)", weak)
        return 2
    clips_dir = Path(settings.clips_dir) if settings.clips_dir else config.state_dir / "clips"
    try:  # in a relay cluster: only this node's cameras; the rest redirect to their owners
        cameras, wrap = shard_relay(config.cluster, config.cameras)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    verify = [k.get_secret_value() for k in config.hub.verify_secret_keys]
    owns = (ShardMap(config.cluster.nodes, config.cluster.node_id).is_mine
            if config.cluster.nodes else None)  # the store's cameras: this node's only
    return asyncio.run(serve(cameras, settings, secret, clips_dir, wrap, verify, owns,
                             resume_file(config.state_dir)))
