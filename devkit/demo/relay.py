"""The demo city's media relay, wired to the hub so that the web UI's wall plays video.

``cityhub demo`` calls :func:`start_relay` before it starts the hub API: the relay
gets free ports, and the demo's city.yaml records them (``streams`` for the relay,
``access.relay_*_url`` for the hub's play tokens and the UI's relay gateway).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from core.net import free_port
from devkit.demo.stack import Stack


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
    stack.cityhub("relay", ["relay", "--config", str(path)])
    stack.wait_log("relay", "relay: ready", timeout)
    stack.set_liveness("relay", f"http://127.0.0.1:{http_port}/healthz")
    return {"relay": f"http://127.0.0.1:{http_port}"}
