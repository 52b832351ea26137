"""The demo city's ingest: one worker, and simulated traffic from every city system."""

from __future__ import annotations

from pathlib import Path

from core.net import free_port
from devkit.demo.stack import Stack

#: Records per second the demo's simulator publishes across all systems (kept light).
DEMO_RATE = 20
#: One native message in this many is cut short, as a faulty device sends it: the demo's
#: admins find them under Dead letters (about one a minute).
FAULTY_EVERY = 300


def start_ingest(stack: Stack, state_dir: Path, dsn: str, broker_url: str) -> dict[str, str]:
    """Start ``cityhub ingest`` and ``cityhub simulate all``; return the URLs to print."""
    metrics = free_port()
    stack.cityhub(
        "ingest",
        [
            "ingest",
            "--config",
            str(state_dir / "city.yaml"),
            "--dsn",
            dsn,
            "--broker",
            broker_url,
            "--index",
            "0",
            "--metrics-port",
            str(metrics),
        ],
    )
    stack.wait_log("ingest", "consuming")
    stack.set_liveness("ingest", f"http://127.0.0.1:{metrics}/healthz")  # hung: restarted
    stack.cityhub(
        "simulate",
        [
            "simulate",
            "all",
            "--rate",
            str(DEMO_RATE),
            "--broker",
            broker_url,
            "--pack",  # small packs: every system gets a share of the rate
            "5",
            "--client-id",
            "cityhub-demo-simulate",
            "--faulty-every",
            str(FAULTY_EVERY),
        ],
    )
    return {
        "ingest metrics": f"http://127.0.0.1:{metrics}/metrics",
        "simulated traffic": f"{DEMO_RATE} records/s from every system (cityhub simulate all),"
                             f" one native message in {FAULTY_EVERY} faulty (Dead letters)",
    }
