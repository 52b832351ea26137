"""The viewers' side of the hub in ``bench.viewers``: one operator's login shared by every tile,
play tokens, and the question a player asks when a view ends (did access end it?)."""

from __future__ import annotations

import asyncio
import time

import httpx


class Hub:
    """The viewers' login at the hub (one session, as one operator's browser)."""

    def __init__(self, base: str, user: str, password: str) -> None:
        self.base, self.user, self.password = base.rstrip("/"), user, password
        self.access: str | None = None
        # A browser's fetch() waits as long as the server takes (the gateway gives up on the
        # relay after 30 s): a shorter timeout here would send a slow start to the fallback.
        self.http = httpx.AsyncClient(base_url=self.base, timeout=60)
        self._login_lock = asyncio.Lock()

    async def _login(self) -> None:
        """One login for all the tiles, as in one browser."""
        async with self._login_lock:
            if self.access is not None:
                return
            r = await self.http.post("/api/v1/auth/token",
                                     data={"username": self.user, "password": self.password})
            r.raise_for_status()
            self.access = r.json()["access_token"]

    async def play(self, camera: str, protocols: list[str]) -> tuple[str, str]:
        """A play token and its view session, logging in again once on 401."""
        for _ in range(2):
            if self.access is None:
                await self._login()
            stale = self.access
            r = await self.http.post(f"/api/v1/cameras/{camera}/play",
                                     json={"protocols": protocols},
                                     headers={"Authorization": f"Bearer {self.access}"})
            if r.status_code == 401:
                if self.access == stale:
                    self.access = None
                continue
            r.raise_for_status()
            body = r.json()
            return body["token"], body["session_id"]
        raise httpx.HTTPError("play: 401 after a fresh login")

    async def ended(self, camera: str, session: str) -> str | None:
        """Why the relay ended this view (access taken away), or None."""
        try:
            r = await self.http.get(f"/ui/relay/sessions/{camera}/{session}")
            return (r.json().get("ended") or {}).get("code") if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None


class PlayTokens:
    """One tile's play token, as player.js keeps it: a retry after the relay died, within
    ``reuse_s`` of the token's issue, reuses it (the relay still asks the hub before it
    serves the view); any other start asks the hub for a new one."""

    def __init__(self, hub: Hub, camera: str, protocols: list[str], reuse_s: float) -> None:
        self.hub, self.camera, self.protocols = hub, camera, protocols
        self.reuse_s = reuse_s
        self.current: tuple[str, str] | None = None  #: token, view session
        self.issued = 0.0

    async def get(self, relay_was_down: bool) -> tuple[str, str, bool]:
        """(token, session, reused)."""
        if relay_was_down and self.current and time.monotonic() - self.issued < self.reuse_s:
            return (*self.current, True)
        self.current = await self.hub.play(self.camera, self.protocols)
        self.issued = time.monotonic()
        return (*self.current, False)
