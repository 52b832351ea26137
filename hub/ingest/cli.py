"""``cityhub ingest``: MQTT ingest workers (one process each, so N workers use N cores)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import subprocess
import sys
import time

from core import sdnotify
from hub.config import CityConfig, load_config

log = logging.getLogger(__name__)


def _targets(args: argparse.Namespace, cfg: CityConfig) -> tuple[str, str]:
    dsn = args.dsn or (cfg.database.url.get_secret_value() if cfg.database.url else None)
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
