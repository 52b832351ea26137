"""The demo city over GB/T 28181: city management's riverside NVR is a simulated GB/T 28181
device that registers to the city's SIP service (`cityhub sip`), whose catalog becomes
city management's cameras (the relay pulls them as gb28181:// and the wall plays them);
and the city cascades to a simulated province platform, to which police share one
recorded camera (live and playback) and from which the province's SUBSCRIBEs/INVITEs come.

:func:`configure` writes the ``gb28181`` section (ports, a random digest password kept in
the state directory) before the relay and hub start; :func:`start` runs the three parts
once the hub has migrated the store.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import yaml

from core.files import write_private
from core.net import free_port
from devkit.demo.stack import Stack
from devkit.gb28181_device import channel_ids

PLATFORM_ID = "51010000002000000001"  #: the city's SIP server (Chengdu, 510100)
DEVICE_ID = "51010000001180000001"  #: city management's riverside NVR (type 118: NVR)
UPPER_ID = "51000000002000000001"  #: the province's platform (510000)
SHARED_CHANNEL = "51010000001310000001"  #: police's sc-xinhua-1 as the province numbers it
CHANNELS = 2
CHANNEL_IDS = channel_ids(DEVICE_ID, CHANNELS)  #: city management's cameras over GB/T 28181


def password(state_dir: Path) -> str:
    """The demo's GB/T 28181 digest password, random per state directory (kept 0600)."""
    path = state_dir / "gb28181-password"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(18))
    return path.read_text().strip()


def configure(state_dir: Path) -> dict[str, int]:
    """Add the ``gb28181`` section to the demo's city.yaml; returns the ports chosen."""
    path = state_dir / "city.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    ports = {"sip": free_port(), "control": free_port(), "cascade": free_port(),
             "upper": free_port()}
    secret = password(state_dir)
    raw["gb28181"] = {
        "enabled": True, "platform_id": PLATFORM_ID, "domain": PLATFORM_ID[:10],
        "host": "127.0.0.1", "port": ports["sip"], "control_port": ports["control"],
        "cascade_port": ports["cascade"], "keepalive_s": 30,
        "devices": [{"id": DEVICE_ID, "name": "滨河公园 NVR", "department": "citymgmt",
                     "site": "river-park", "password": secret, "keepalive_s": 30,
                     "system": "citymgmt", "kind": "device"}],
        "uppers": [{"id": UPPER_ID, "name": "省级平台", "domain": UPPER_ID[:10],
                    "host": "127.0.0.1", "port": ports["upper"], "password": secret,
                    "keepalive_s": 30, "shares": [
                        {"department": "police", "camera": "sc-xinhua-1",
                         "channel_id": SHARED_CHANNEL, "playback": True}]}],
    }
    write_private(path, yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return ports


def start(stack: Stack, state_dir: Path, dsn: str, ports: dict[str, int]) -> dict[str, str]:
    """The province (simulated), `cityhub sip`, then the NVR (simulated); listing lines."""
    os.environ["CITYHUB_GB_PASSWORD"] = password(state_dir)  # handed to the simulators
    stack.cityhub("gb28181-upper", [
        "simulate", "gb28181-upper", "--listen", f"127.0.0.1:{ports['upper']}",
        "--upper-id", UPPER_ID, "--lower-id", PLATFORM_ID])
    stack.wait_log("gb28181-upper", "listening on")
    stack.cityhub("sip", ["sip", "--config", str(state_dir / "city.yaml"), "--dsn", dsn])
    stack.wait_log("sip", "listening on")
    stack.cityhub("gb28181-device", [
        "simulate", "gb28181-device", "--server", f"127.0.0.1:{ports['sip']}",
        "--device-id", DEVICE_ID, "--platform-id", PLATFORM_ID, "--channels", str(CHANNELS),
        "--keepalive", "30"])
    stack.wait_log("gb28181-device", "registered", 60)
    return {
        "gb28181 sip": f"udp+tcp 127.0.0.1:{ports['sip']} (platform {PLATFORM_ID})",
        "gb28181 device": f"{DEVICE_ID} (citymgmt, {CHANNELS} channels)",
        "gb28181 upper": f"127.0.0.1:{ports['upper']} (province {UPPER_ID})",
    }
