"""``discovery:`` in ``site.yaml``: probing the box's network for ONVIF cameras."""

from __future__ import annotations

from ipaddress import IPv4Address

from pydantic import Field

from core.config import Section


class DiscoveryConfig(Section):
    """WS-Discovery of ONVIF cameras on the box's network, reported to the hub as pending
    cameras (an admin of the department accepts them there, with their credentials)."""

    enabled: bool = Field(
        False, description="Probe the local network for ONVIF cameras (multicast, TTL 1)."
    )
    interval_s: float = Field(
        300.0, ge=1, le=86400, description="Seconds between probes; each reports every device "
        "found (its last_seen at the hub follows)."
    )
    timeout_s: float = Field(
        3.0, ge=0.5, le=30, description="How long one probe collects answers."
    )
    interface: IPv4Address = Field(
        IPv4Address("0.0.0.0"), description="IPv4 address of the interface to probe from "
        "(the camera LAN); 0.0.0.0: the multicast route's interface."
    )
    max_results: int = Field(
        64, ge=1, le=256, description="Most devices one probe keeps (a flood of answers is cut)."
    )
