"""``cityhub ingest``: MQTT ingest workers (one process each, so N workers use N cores)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import subprocess
import sys
import time
from datetime import datetime

from core import sdnotify
from hub.config import CityConfig, load_config

log = logging.getLogger(__name__)


def _dsn(args: argparse.Namespace, cfg: CityConfig) -> str | None:
    return args.dsn or (cfg.database.url.get_secret_value() if cfg.database.url else None)


def _targets(args: argparse.Namespace, cfg: CityConfig) -> tuple[str, str]:
    dsn = _dsn(args, cfg)
    broker = args.broker or cfg.broker.url
    if not dsn or not broker:
        raise SystemExit(
            "ingest needs a database and a broker: set database.url and broker.url "
            "(or --dsn / --broker)"
        )
    return dsn, broker


def run_worker(cfg: CityConfig, index: int, dsn: str, broker: str) -> None:
    """Run one worker in this process until SIGTERM/SIGINT."""
    # lazy: the worker loads only to run, keeping `cityhub --help` fast
    from hub.ingest import probes  # noqa: PLC0415
    from hub.ingest.worker import IngestWorker  # noqa: PLC0415

    ic = cfg.ingest
    health = probes.Probes()
    if ic.metrics_port:
        probes.serve(health, ic.metrics_port + index, ic.metrics_host)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stopping() -> None:  # /readyz turns 503 at once, the batch in hand drains
            health.stopping = True
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping)
        beat = asyncio.create_task(health.beating())
        worker = IngestWorker(
            ic,
            broker,
            dsn,
            cfg.store,
            index=index,
            username=cfg.broker.username,
            password=cfg.broker.password.get_secret_value() if cfg.broker.password else None,
        )
        async with sdnotify.supervised():  # systemd: Type=notify, WatchdogSec= (deploy/systemd)
            await worker.run(stop)
        beat.cancel()

    asyncio.run(main())


def _supervise(args: argparse.Namespace) -> int:
    """Run N worker processes; restart one that dies (its broker session resumes)."""
    base = [sys.executable, "-c", "from hub.cli import main; main()", "ingest"]
    for opt in ("config", "dsn", "broker", "metrics_port"):
        if getattr(args, opt) is not None:
            base += [f"--{opt.replace('_', '-')}", str(getattr(args, opt))]
    procs: dict[int, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        for i in range(args.workers):
            p = procs.get(i)
            if p is None or p.poll() is not None:
                if p is not None:
                    log.warning("ingest worker %d exited with %s; restarting", i, p.returncode)
                    time.sleep(1)
                procs[i] = subprocess.Popen([*base, "--index", str(i)])
        time.sleep(0.5)
    for p in procs.values():
        p.send_signal(signal.SIGTERM)
    for p in procs.values():
        p.wait(30)
    return 0


def _ingest(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.metrics_port is not None:
        cfg.ingest.metrics_port = args.metrics_port
    dsn, broker = _targets(args, cfg)
    if args.index is None and args.workers > 1:
        return _supervise(args)
    run_worker(cfg, args.index or 0, dsn, broker)
    return 0


def _replay(args: argparse.Namespace) -> int:
    """Dead letters adapted again (hub.ingest.replay); progress on stderr, the tally as JSON."""
    import getpass  # noqa: PLC0415
    import json  # noqa: PLC0415
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    import psycopg  # noqa: PLC0415

    from hub.audit import chain  # noqa: PLC0415
    from hub.ingest.replay import Tally, run  # noqa: PLC0415
    from hub.store.dead_letters import Selection  # noqa: PLC0415
    from hub.store.writer import BatchWriter  # noqa: PLC0415

    cfg = load_config(args.config)
    dsn = _dsn(args, cfg)
    if not dsn:
        raise SystemExit("replay needs the database: set database.url (or --dsn)")
    sel = Selection(args.department, args.topic_prefix, args.reason, args.since, args.until,
                    args.id or None)

    def progress(t: Tally) -> None:
        done = t.replayed + t.split + t.still_refused
        print(f"{done:,}/{t.selected:,} letters: {t.replayed:,} replayed, {t.split:,} in part, "
              f"{t.still_refused:,} still refused", file=sys.stderr, flush=True)

    tally = run(dsn, sel, ZoneInfo(cfg.ingest.local_timezone), BatchWriter(cfg.store),
                args.dry_run, progress)
    summary = {"dry_run": args.dry_run, **tally.summary()}
    with psycopg.connect(dsn) as conn:  # who replayed what, on the record
        chain.append(conn, actor=f"cli:{getpass.getuser()}", action="dead_letters.replay",
                     target_type="dead_letter", department=args.department,
                     detail={"selection": {k: str(v) for k, v in vars(sel).items()
                                           if v is not None}, **summary})
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def _when(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text}: give a time zone (e.g. +08:00)")
    return at


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="run MQTT ingest workers (MQTT -> adapters -> store)")
    p.add_argument("--config", help="cityhub YAML configuration")
    p.add_argument("--dsn", help="database URL (overrides database.url)")
    p.add_argument("--broker", help="broker URL mqtt://host:port (overrides broker.url)")
    p.add_argument("--workers", type=int, default=1, help="worker processes to run (default 1)")
    p.add_argument(
        "--metrics-port",
        type=int,
        help="port of worker 0's /metrics (overrides ingest.metrics_port; 0: none)",
    )
    p.add_argument(
        "--index",
        type=int,
        help="run only worker INDEX in this process "
        "(client id <prefix>-INDEX, metrics port + INDEX)",
    )
    p.set_defaults(func=_ingest)
    isub = p.add_subparsers(dest="ingest_command", metavar="{replay}")
    r = isub.add_parser(
        "replay", help="adapt dead letters again (after an adapter is fixed) and store what "
        "passes now; a letter refused again stays, with today's reason")
    r.add_argument("--config", help="cityhub YAML configuration")
    r.add_argument("--dsn", help="database URL (overrides database.url)")
    r.add_argument("--department", help="only this department's letters")
    r.add_argument("--topic-prefix", help="only letters whose topic starts so")
    r.add_argument("--reason", help="only letters whose reason contains this")
    r.add_argument("--since", type=_when, help="only letters received from (ISO 8601, zoned)")
    r.add_argument("--until", type=_when, help="only letters received before (ISO 8601, zoned)")
    r.add_argument("--id", type=int, action="append", help="only this letter (repeatable)")
    r.add_argument("--dry-run", action="store_true",
                   help="write nothing: say what would be stored and what refused again")
    r.set_defaults(func=_replay)
