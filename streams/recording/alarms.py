"""Recording alarms, and cameras going offline and back, to the hub's event path.

A recording that stops (write failure, no room left), a disk near full, a storage path gone
or an archive move that failed is posted to the hub (``POST /api/v1/streams/alarms``,
service token), which stores it as an event of the cameras' departments: it shows in the
event console and wakes incident rules like any alarm. The same alarm (kind and camera or
path) is sent at most once per ``alarm_repeat_s`` (Prometheus counts every one); alarms
wait in memory while the hub is away, carrying ids that make a resend harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import httpx

from core.http import async_client

log = logging.getLogger(__name__)
PATH = "/api/v1/streams/alarms"
#: Alarms about a storage path (all recorded cameras concerned), not one camera.
PATH_KINDS = frozenset({"disk_near_full", "storage_unavailable"})
MAX_PENDING = 1000
RETRY_S = 2.0


def alarm(kind: str, message: str, recorded: list[str]) -> dict[str, Any]:
    """The alarm as posted; ``message`` starts with its subject (camera id or path)."""
    subject = message.split(":", 1)[0]
    body: dict[str, Any] = {"id": str(uuid.uuid4()), "kind": kind, "message": message[:1000],
                            "at": time.time()}
    if kind in PATH_KINDS:
        body.update(path=subject[:1000], cameras=recorded)
    else:
        body["camera"] = subject
    return body


class AlarmForwarder:
    def __init__(self, hub_url: str | None, service_token: str, repeat_s: float) -> None:
        self.url = hub_url.rstrip("/") + PATH if hub_url else None
        self.headers = {"Authorization": f"Bearer {service_token}"}
        self.repeat_s = repeat_s
        self.pending: list[dict[str, Any]] = []
        self.sent = 0
        self._last: dict[tuple[str, str], float] = {}
        self._wake = asyncio.Event()

    def submit(self, body: dict[str, Any], transition: bool = False) -> None:
        """Queue an alarm (event loop); a repeat within ``repeat_s`` is left out, except a
        ``transition`` (a camera going offline or back online: each one is news)."""
        if self.url is None:
            return
        key = (body["kind"], body.get("camera") or body.get("path") or "")
        now = time.monotonic()
        if not transition and key in self._last and now - self._last[key] < self.repeat_s:
            return
        self._last[key] = now
        self.pending.append(body)
        del self.pending[:-MAX_PENDING]  # the hub away for long: keep the newest
        self._wake.set()

    async def run(self) -> None:
        """Post queued alarms until cancelled; never raises."""
        if self.url is None:
            return
        async with async_client(timeout=10) as client:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self.pending and not await self._post(client, list(self.pending)):
                    await asyncio.sleep(RETRY_S)

    async def _post(self, client: httpx.AsyncClient, batch: list[dict[str, Any]]) -> bool:
        assert self.url is not None
        try:
            r = await client.post(self.url, json={"alarms": batch}, headers=self.headers)
            r.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("recording alarms to the hub: %s (kept, %d waiting)",
                        type(exc).__name__, len(self.pending))
            return False
        sent = {a["id"] for a in batch}
        self.pending = [a for a in self.pending if a["id"] not in sent]
        self.sent += len(batch)
        return True
