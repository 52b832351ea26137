"""The load bench.soak puts on the city, counted so that the run can tell what was lost: event
batches pushed through the edge box, each retried until accepted (the ids kept), and the
readings the ingest worker stored, read from its Prometheus counters across restarts."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import httpx

from adapters.model import new_event_id
from devkit.fixtures.edge import push_until_accepted


class CountedLoad:
    """Event batches pushed to the edge box, each retried until accepted; ids kept."""

    def __init__(
        self, url: str, department: str, site: str, rate: float, auth: httpx.Auth | None = None
    ) -> None:
        self.url = f"{url}/push/cityhub-events?system=edge"
        self.auth = auth  #: the demo push device's digest credentials
        self.department, self.site = department, site
        self.batch = max(1, int(rate // 10))
        self.ids: list[str] = []
        self.retries = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        """A batch every 0.1 s, catching up after an outage (a source system's backlog)."""
        t0, sent = time.monotonic(), 0
        with httpx.Client(timeout=5, auth=self.auth) as http:
            while not self.stop.is_set():
                due = (time.monotonic() - t0) * 10
                if sent >= due:
                    self.stop.wait(min(0.1, (sent + 1 - due) / 10))
                    continue
                self._push(http)
                sent += 1

    def _push(self, http: httpx.Client) -> None:
        now = datetime.now(UTC).isoformat()
        ids = [str(new_event_id()) for _ in range(self.batch)]
        body = json.dumps({"events": [
            {"id": i, "occurred_at": now, "source_system": "edge", "kind": "soak",
             "department": self.department, "site": self.site}
            for i in ids
        ]})
        self.ids += ids
        self.retries += push_until_accepted(http, self.url, body)


def stored_readings(metrics_url: str) -> float | None:
    """Readings the ingest worker took (committed, or already stored: the simulator's values
    may repeat a key), from its Prometheus counters; None if it does not answer."""
    try:
        text = httpx.get(metrics_url, timeout=2).text
    except httpx.HTTPError:
        return None
    names = ('cityhub_ingest_records_stored_total{type="reading"}',
             'cityhub_ingest_records_duplicate_total{type="reading"}')
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(names))


class ReadingsMeter:
    """Readings committed, summed across ingest restarts (a counter that drops restarted)."""

    def __init__(self, url: str) -> None:
        self.url, self.total, self.last = url, 0.0, 0.0
        self.t0: float | None = None
        self.total0 = 0.0

    def poll(self) -> None:
        now = stored_readings(self.url)
        if now is None:
            return
        self.total += now - self.last if now >= self.last else now
        self.last = now
        if self.t0 is None:
            self.t0, self.total0 = time.monotonic(), self.total

    def rate(self) -> float:
        if self.t0 is None or time.monotonic() - self.t0 < 1:
            return 0.0
        return (self.total - self.total0) / (time.monotonic() - self.t0)
