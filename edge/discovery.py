"""Periodic WS-Discovery of ONVIF cameras; every device found becomes a report in the outbox.

Each probe reports every device it found (``city/<dept>/<site>/edge/discovery``), so the
hub's ``last_seen`` follows the probes and a report lost to the outbox's telemetry caps is
superseded by the next one; ``first_seen`` travels in every report (the hub keeps the
earliest it was told). The hub keys pending cameras by department and first XAddr.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError

from core.discovery import DiscoveryReport
from core.topics import discovery_topic
from edge.config import EdgeConfig
from edge.outbox import Message
from streams.onvif.discovery import Found, discover, scope_value

log = logging.getLogger(__name__)
MAX_REMEMBERED = 4096  #: devices whose first_seen the box keeps (oldest forgotten first)
_PRINTABLE = re.compile(r"^[^\x00-\x1f]{0,512}$")


def report_of(found: Found, device: str, first_seen: datetime, now: datetime) -> DiscoveryReport:
    """The report of one ProbeMatch (oversized or unprintable scopes and types are left out);
    ValidationError when the answer is unusable (no http XAddr)."""
    xaddrs = [x for x in found.xaddrs if x.lower().startswith(("http://", "https://"))]
    return DiscoveryReport(
        device=device,
        endpoint=found.address if _PRINTABLE.match(found.address) else "",
        xaddrs=xaddrs[:8],
        scopes=[s for s in found.scopes if _PRINTABLE.match(s)][:32],
        types=[t for t in found.types if _PRINTABLE.match(t)][:16],
        name=scope_value(found.scopes, "name"),
        hardware=scope_value(found.scopes, "hardware"),
        first_seen=first_seen,
        last_seen=now,
    )


class DiscoveryTask:
    """Probes every ``discovery.interval_s`` and hands the reports to ``put`` (the outbox)."""

    def __init__(self, config: EdgeConfig, put: Callable[[list[Message]], None]) -> None:
        self.config, self.put = config, put
        self.first_seen: dict[str, datetime] = {}
        self.probes = 0
        self.last_found = 0
        self.last_error: str | None = None

    async def run(self) -> None:
        while True:
            await self.probe_once()
            await asyncio.sleep(self.config.discovery.interval_s)

    async def probe_once(self) -> int:
        """One probe; the number of devices reported. Failures are logged, never raised."""
        d = self.config.discovery
        try:
            found = await discover(d.timeout_s, d.max_results, str(d.interface))
        except OSError as exc:  # e.g. the interface address is not on this box
            self.last_error = f"probe from {d.interface} failed: {exc.strerror or exc}"
            log.error("discovery: %s", self.last_error)
            return 0
        self.probes += 1
        self.last_error = None
        now = datetime.now(UTC)
        reports = []
        for f in found:
            key = f.address or f.xaddrs[0]
            first = self.first_seen.setdefault(key, now)
            try:
                reports.append(report_of(f, self.config.device, first, now))
            except ValidationError:
                log.warning("discovery: ignoring an unusable answer (XAddrs %.200s)", f.xaddrs)
        while len(self.first_seen) > MAX_REMEMBERED:
            del self.first_seen[next(iter(self.first_seen))]
        topic = discovery_topic(self.config.site.department, self.config.site.id)
        if reports:
            self.put([Message(topic, r.model_dump_json().encode(), "discovery", evidence=False)
                      for r in reports])
        self.last_found = len(reports)
        log.info("discovery: %d ONVIF device(s) found", len(reports))
        return len(reports)

    def stats(self) -> dict[str, object]:
        return {"probes": self.probes, "last_found": self.last_found,
                "last_error": self.last_error}
