"""Views end when access ends: the relay asks the hub before and while it serves.

A play token proves the hub allowed a view when it signed the token; it cannot say
that access was taken away since. With ``streams.hub_url`` set, the relay therefore
asks the hub (``POST /api/v1/streams/sessions/sync``, with its service token) before
it serves a view, refusing when the hub says no or cannot be asked, and every
``streams.access_check_s`` while views last; views the hub ends are closed at once and
the reason is kept for the viewer (``GET /sessions/{id}``). Without ``hub_url`` (an
isolated relay on a test bench) the token alone decides.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import httpx

from core.http import async_client, sync_client
from core.periodic import FailureStreak
from streams.auth.tokens import PlayGrant, PlayTokenError

log = logging.getLogger(__name__)

Closer = Callable[[str], None]  #: ends one view; called on the event loop with the reason
SYNC_PATH = "/api/v1/streams/sessions/sync"
KEEP_ENDED = 10000  #: reasons kept for viewers asking why their view ended


class ViewGuard:
    """Live views by play-token id, admitted and re-checked with the hub."""

    def __init__(self, hub_url: str | None, service_token: str, interval_s: float,
                 timeout_s: float = 3.0) -> None:
        self.url = hub_url.rstrip("/") + SYNC_PATH if hub_url else None
        self.headers = {"Authorization": f"Bearer {service_token}"}
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.ended: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._views: dict[str, dict[int, Closer]] = {}
        self._stopped: list[str] = []
        self._ids = itertools.count()
        self._lock = threading.Lock()  # RTSP views come and go on the GLib thread
        self._async: httpx.AsyncClient | None = None
        self._sync: httpx.Client | None = None  #: RTSP admissions (reader threads)
        self._failures = FailureStreak("view check with the hub (views go on)")
        self._admitting: list[tuple[str, asyncio.Future[Any]]] = []  #: views waiting to start
        self._admitter: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.url is not None

    def _client(self) -> httpx.AsyncClient:
        """One connection pool to the hub for the relay's life (views start often)."""
        if self._async is None:
            self._async = async_client(timeout=self.timeout_s, headers=self.headers)
        return self._async

    async def admit(self, grant: PlayGrant | None) -> None:
        """Raise PlayTokenError unless the hub lets this view start now.

        Views that ask while the hub is being asked for others go together in the next
        request (as a database's group commit): a wall's tiles coming back at once after a
        relay restart cost the hub one request and one transaction, not one each."""
        if grant is None or self.url is None:
            return
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._admitting.append((grant.token_id, answer))
        if self._admitter is None or self._admitter.done():
            self._admitter = asyncio.create_task(self._admit_waiting())
        try:
            self._admitted(grant, await answer)
        except (httpx.HTTPError, ValueError) as exc:
            raise PlayTokenError(f"cannot confirm access with the hub: {exc}") from exc

    async def _admit_waiting(self) -> None:
        """Asks the hub about every view waiting, in one request, until none waits."""
        while self._admitting:
            batch, self._admitting = self._admitting, []
            try:
                answer = await self._post({"started": [token_id for token_id, _ in batch]})
            except Exception as exc:  # each waiter gets it (admit() says why): none waits on
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(exc)
                continue
            for _, waiter in batch:
                if not waiter.done():
                    waiter.set_result(answer)

    def admit_blocking(self, grant: PlayGrant | None) -> None:
        """:meth:`admit` for callers on a thread without an event loop (RTSP)."""
        if grant is None or self.url is None:
            return
        if self._sync is None:
            self._sync = sync_client(timeout=self.timeout_s, headers=self.headers)
        try:
            r = self._sync.post(self.url, json={"started": [grant.token_id]})
            r.raise_for_status()
            answer = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PlayTokenError(f"cannot confirm access with the hub: {exc}") from exc
        self._admitted(grant, answer)

    def _admitted(self, grant: PlayGrant, answer: Any) -> None:
        ended = _ended(answer).get(_key(grant.token_id))
        if ended is not None:
            self._remember(grant.token_id, ended)
            raise PlayTokenError(f"access ended: {ended.get('reason', 'refused by the hub')}")

    async def _post(self, body: dict[str, list[str]]) -> Any:
        assert self.url is not None
        r = await self._client().post(self.url, json=body)
        r.raise_for_status()
        return r.json()

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
        if self._sync is not None:
            self._sync.close()

    def watch(self, grant: PlayGrant | None, close: Closer) -> Callable[[], None]:
        """Keep ``close`` until the returned release is called (any thread)."""
        if grant is None:
            return lambda: None
        key, session = next(self._ids), _key(grant.token_id)
        with self._lock:
            self._views.setdefault(session, {})[key] = close

        def release() -> None:
            with self._lock:
                closers = self._views.get(session)
                if closers is None or closers.pop(key, None) is None:
                    return
                if not closers:
                    del self._views[session]
                    if self.url is not None:
                        self._stopped.append(session)

        return release

    def why(self, session: str) -> dict[str, str] | None:
        return self.ended.get(_key(session))

    def _remember(self, session: str, ended: dict[str, str]) -> None:
        self.ended[_key(session)] = {"code": str(ended.get("code", "")),
                               "reason": str(ended.get("reason", ""))}
        while len(self.ended) > KEEP_ENDED:
            self.ended.popitem(last=False)

    async def run(self) -> None:
        """Re-check live views every interval until cancelled; never raises."""
        if self.url is None:
            return
        while True:
            await asyncio.sleep(self.interval_s)
            await self.check()

    async def check(self) -> None:
        with self._lock:
            live, stopped = list(self._views), self._stopped
            self._stopped = []
        if not live and not stopped:
            return
        try:
            answer = await self._post({"live": live, "stopped": stopped})
        except (httpx.HTTPError, ValueError) as exc:  # views go on; stops are sent next time
            self._failures.failed(exc, self.interval_s)
            with self._lock:
                self._stopped.extend(stopped)
            return
        self._failures.worked()
        for session, ended in _ended(answer).items():
            self._end(session, ended)

    def _end(self, session: str, ended: dict[str, str]) -> None:
        self._remember(session, ended)
        with self._lock:
            closers = list(self._views.get(session, {}).values())
        log.info("view %s ended by the hub: %s", session[:8], ended.get("code"))
        for close in closers:
            try:
                close(self.ended[session]["reason"])
            except Exception:  # one broken closer must not keep the other views open
                log.exception("closing view %s", session[:8])


def _key(session: str) -> str:
    """One spelling of a session id (the hub writes UUIDs with dashes, tokens without)."""
    try:
        return uuid.UUID(session).hex
    except ValueError:
        return session


def _ended(answer: Any) -> dict[str, dict[str, str]]:
    ended = answer.get("ended", {}) if isinstance(answer, dict) else {}
    return {_key(str(k)): v for k, v in ended.items() if isinstance(v, dict)}
