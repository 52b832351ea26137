"""The demo city's media relay, wired to the hub so that the web UI's wall plays video.

``cityhub demo`` calls :func:`start_relay` before it starts the hub API: the relay
gets free ports, and the demo's city.yaml records them (``streams`` for the relay,
``access.relay_*_url`` for the hub's play tokens and the UI's relay gateway). A second
relay stands by on the same config (``--standby``, streams/standby.py) and serves the
moment the active one dies; the supervisor's restart of the dead one stands by next.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from core.net import free_port
from devkit.demo.stack import Stack
from devkit.demo.supervisor import http_live
from streams.standby import holder, lock_path

#: The demo's two relay processes; either may be the active one.
RELAYS = ("relay", "relay-standby")


def start_relay(
    stack: Stack, state_dir: Path, hub_port: int, timeout: float = 60
) -> dict[str, str]:
    """Run ``cityhub relay`` on the demo's cameras; returns its URL for the demo's listing.

    The relay asks the hub (on ``hub_port``, started next) whether each view may go on."""
    path = state_dir / "city.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    http_port, rtsp_port = free_port(), free_port()
    raw["streams"] = {**raw.get("streams", {}), "http_port": http_port, "rtsp_port": rtsp_port,
                      "hub_url": f"http://127.0.0.1:{hub_port}"}
    raw["access"] = {**raw.get("access", {}), "relay_http_url": f"http://127.0.0.1:{http_port}",
                     "relay_rtsp_url": f"rtsp://127.0.0.1:{rtsp_port}"}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    lock, healthz = lock_path(state_dir), f"http://127.0.0.1:{http_port}/healthz"
    for name in RELAYS:
        stack.cityhub(name, ["relay", "--config", str(path), "--standby"])
        stack.wait_log(name, "relay: ready" if name == "relay" else "waiting to take over",
                       timeout)
        stack.set_probe(name, _live(stack, name, lock, healthz))
    return {"relay": f"http://127.0.0.1:{http_port}"}


def _live(stack: Stack, name: str, lock: Path, healthz: str) -> Callable[[], bool]:
    """A hung relay is the active one not answering; a standby is live while it runs."""
    return lambda: holder(lock) != stack.pid(name) or http_live(healthz)


def active_relay_pid(state_dir: Path) -> int | None:
    """The relay process serving now (the other stands by)."""
    return holder(lock_path(state_dir))
