"""WS-Discovery for the simulated cameras: answer Probe (UDP multicast 239.255.255.250:3702).

Each camera answers with its own ProbeMatch (EndpointReference, Types, Scopes, XAddrs),
unicast to the prober, as an ONVIF NetworkVideoTransmitter does.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import uuid
from typing import cast

from defusedxml import ElementTree

from devkit.onvif.services import SimCamera

log = logging.getLogger(__name__)
GROUP, PORT = "239.255.255.250", 3702
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
SOAP = "http://www.w3.org/2003/05/soap-envelope"
MAX_PROBE_BYTES = 16_384


def probe_match(cam: SimCamera, relates_to: str) -> bytes:
    address = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, cam.http)}"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" xmlns:a="{WSA}" '
        f'xmlns:d="{WSD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>'
        f"<a:MessageID>urn:uuid:{uuid.uuid4()}</a:MessageID><a:RelatesTo>{relates_to}"
        f"</a:RelatesTo><a:To>{WSA}/role/anonymous</a:To>"
        f"<a:Action>{WSD}/ProbeMatches</a:Action></s:Header><s:Body><d:ProbeMatches>"
        f"<d:ProbeMatch><a:EndpointReference><a:Address>{address}</a:Address>"
        "</a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>"
        "<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/type/ptz "
        f"onvif://www.onvif.org/name/{cam.name}</d:Scopes>"
        f"<d:XAddrs>{cam.http}/onvif/device_service</d:XAddrs>"
        "<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches>"
        "</s:Body></s:Envelope>"
    ).encode()


def probe_id(data: bytes) -> str | None:
    """The MessageID of a WS-Discovery Probe, or None for anything else."""
    if len(data) > MAX_PROBE_BYTES:
        return None
    try:
        root = ElementTree.fromstring(data)
    except Exception:  # not XML, or hostile XML: not a probe
        return None
    if root.find(f"{{{SOAP}}}Body/{{{WSD}}}Probe") is None:
        return None
    return root.findtext(f"{{{SOAP}}}Header/{{{WSA}}}MessageID") or ""


class Responder(asyncio.DatagramProtocol):
    def __init__(self, cameras: list[SimCamera]) -> None:
        self.cameras = cameras
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        relates = probe_id(data)
        if relates is None or self.transport is None:
            return
        for cam in self.cameras:
            self.transport.sendto(probe_match(cam, relates), addr)


async def serve_discovery(
    cameras: list[SimCamera], interface: str = "0.0.0.0"
) -> asyncio.DatagramTransport:
    """Join the WS-Discovery group on ``interface`` and answer probes until closed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("", PORT))
    mreq = struct.pack("4s4s", socket.inet_aton(GROUP), socket.inet_aton(interface))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    sock.setblocking(False)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: Responder(cameras), sock=sock)
    log.info("WS-Discovery: answering probes for %d camera(s)", len(cameras))
    return transport
