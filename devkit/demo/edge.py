"""The demo city's edge box: one agent at Xinhua Rd / 5th Ave analysing a synthetic camera."""

from __future__ import annotations

import secrets
from pathlib import Path

import yaml

from core.files import write_private
from core.net import free_port
from devkit.demo.stack import Stack
from hub.config import CityConfig

DEMO_SITE = "xinhua-5th"
#: The demo's local source system pushing to the box (bench.soak's counted load).
PUSH_DEVICE = "demo-anpr"


def push_password(state_dir: Path) -> Path:
    """The push device's password: random on the demo's first start, kept 0600 after."""
    path = state_dir / "edge-push-password"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(24) + "\n")
    return path


def start_edge(stack: Stack, state_dir: Path, city: CityConfig, broker_url: str) -> dict[str, str]:
    """Write the box's site.yaml from the demo city and run ``cityhub edge``."""
    site = next(s for s in city.sites if s.id == DEMO_SITE)
    cam = next(c for c in city.cameras if c.site == DEMO_SITE)
    port = free_port()
    password = push_password(state_dir)
    doc = {
        "device": "demo-box-1",
        "site": site.model_dump(mode="json", exclude_none=True),
        "state_dir": str(state_dir / "edge"),
        "uplink": {"broker": {"url": broker_url}},
        "listener": {"port": port},
        "adapters": ["isapi", "wim", "anpr-json", "cityhub-events"],
        # Pushes need a device's digest credentials; this one may push from this host only.
        "push": {"devices": [{"id": PUSH_DEVICE, "password_file": str(password),
                              "allow_from": ["127.0.0.0/8", "::1"]}]},
        "cameras": [
            {
                "id": cam.id,
                "name": cam.name,
                "url": cam.url.get_secret_value(),
                "system": cam.system.value,
                "analytics": {
                    "fps": 5,
                    "motion": {"cooldown_s": 30},
                    "zones": [
                        {
                            "id": "crosswalk",
                            "polygon": [[0.6, 0.2], [0.95, 0.2], [0.95, 0.8], [0.6, 0.8]],
                        }
                    ],
                    "lines": [
                        {
                            "id": "stop-line",
                            "a": [0.5, 0.0],
                            "b": [0.5, 1.0],
                            "forward": "eastbound",
                            "backward": "westbound",
                        }
                    ],
                    "clip": {"enabled": True},
                },
            }
        ],
    }
    config = state_dir / "edge-site.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    stack.cityhub("edge", ["edge", "--config", str(config)])
    stack.wait_port("edge", port)
    stack.set_liveness("edge", f"http://127.0.0.1:{port}/health")
    stack.edge_url = f"http://127.0.0.1:{port}"
    stack.edge_push = (PUSH_DEVICE, password.read_text().strip())
    return {
        "edge box": f"http://127.0.0.1:{port}/health  (site {DEMO_SITE}, camera {cam.id}: "
        "motion, intrusion, line counts; pushes at /push/isapi|wim|anpr-json)",
        "edge push device": f"{PUSH_DEVICE}, digest password in {password}",
    }
