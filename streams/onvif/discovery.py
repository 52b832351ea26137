"""WS-Discovery: find ONVIF cameras on the local network by a multicast Probe.

A small UDP probe rather than the ``wsdiscovery`` package: that one runs its own
threads and keeps every answer, where a probe here must stay bounded against a flood
(answers, bytes per answer, bytes in all) and finish within its timeout.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from dataclasses import dataclass
from urllib.parse import unquote

from defusedxml import ElementTree

GROUP, PORT = "239.255.255.250", 3702
SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
MAX_ANSWER_BYTES = 16_384  #: a bigger datagram is ignored
MAX_TOTAL_BYTES = 1_048_576  #: the probe stops reading past this
MAX_RESULTS = 256


@dataclass(frozen=True)
class Found:
    address: str  #: the device's endpoint reference (urn:uuid:...)
    xaddrs: tuple[str, ...]  #: its device service URLs
    scopes: tuple[str, ...]
    types: tuple[str, ...]


def scope_value(scopes: tuple[str, ...] | list[str], key: str) -> str:
    """The value of an ``onvif://www.onvif.org/<key>/<value>`` scope ('' when absent),
    e.g. ``name`` and ``hardware`` (percent-decoded, as cameras encode spaces)."""
    prefix = f"onvif://www.onvif.org/{key}/"
    for scope in scopes:
        if scope.lower().startswith(prefix):
            value = unquote(scope[len(prefix):])
            return "".join(c for c in value if c >= " ").strip()[:200]
    return ""


def probe_message(message_id: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" xmlns:a="{WSA}" '
        f'xmlns:d="{WSD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>'
        f"<a:MessageID>{message_id}</a:MessageID><a:To>urn:schemas-xmlsoap-org:ws:2005:04:"
        f"discovery</a:To><a:Action>{WSD}/Probe</a:Action></s:Header><s:Body><d:Probe>"
        "<d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>"
    ).encode()


def parse_matches(data: bytes, message_id: str) -> list[Found]:
    """The ProbeMatch entries of an answer to ``message_id`` ([] for anything else)."""
    if len(data) > MAX_ANSWER_BYTES:
        return []
    try:
        root = ElementTree.fromstring(data)
    except Exception:  # not XML, or hostile XML (entities, DTDs): ignored
        return []
    if root.findtext(f"{{{SOAP}}}Header/{{{WSA}}}RelatesTo", "").strip() != message_id:
        return []
    out = []
    for m in root.iterfind(f"{{{SOAP}}}Body/{{{WSD}}}ProbeMatches/{{{WSD}}}ProbeMatch"):
        xaddrs = tuple(m.findtext(f"{{{WSD}}}XAddrs", "").split())
        if xaddrs:
            out.append(Found(m.findtext(f"{{{WSA}}}EndpointReference/{{{WSA}}}Address", "")
                             .strip(), xaddrs,
                             tuple(m.findtext(f"{{{WSD}}}Scopes", "").split()),
                             tuple(m.findtext(f"{{{WSD}}}Types", "").split())))
    return out


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, message_id: str, max_results: int) -> None:
        self.message_id, self.max_results = message_id, max_results
        self.found: dict[str, Found] = {}
        self.bytes = 0
        self.done = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.done.is_set():
            return
        self.bytes += len(data)
        for f in parse_matches(data, self.message_id):
            self.found.setdefault(f.address or f.xaddrs[0], f)
        if len(self.found) >= self.max_results or self.bytes >= MAX_TOTAL_BYTES:
            self.done.set()


async def discover(timeout_s: float = 3.0, max_results: int = 64, interface: str = "0.0.0.0",
                   repeats: int = 2) -> list[Found]:
    """Probe for ONVIF devices; what answered within ``timeout_s`` (at most ``max_results``).

    ``interface``: the local IPv4 address whose interface sends the probe (default: the
    route's). The probe is sent ``repeats`` times (UDP may drop one), answers deduplicated.
    """
    max_results = max(1, min(max_results, MAX_RESULTS))
    message_id = f"urn:uuid:{uuid.uuid4()}"
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
    sock.bind((interface, 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    transport, collector = await loop.create_datagram_endpoint(
        lambda: _Collector(message_id, max_results), sock=sock)
    deadline = time.monotonic() + timeout_s
    try:
        for i in range(max(1, repeats)):
            transport.sendto(probe_message(message_id), (GROUP, PORT))
            wait = timeout_s / max(1, repeats) if i < repeats - 1 else deadline - time.monotonic()
            try:
                await asyncio.wait_for(collector.done.wait(), max(0.0, wait))
                break
            except TimeoutError:
                continue
    finally:
        transport.close()
    return list(collector.found.values())[:max_results]
