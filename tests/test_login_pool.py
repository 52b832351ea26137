"""A login checks its password (argon2: slow on purpose) holding no pooled connection, so a
burst of logins cannot starve the API's pool. Real uvicorn and PostgreSQL; the pool has one
connection, and another request is made while a password is being verified."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit.fixtures.hubapi import PASSWORD, HubApi, build_hub, serving
from devkit.fixtures.wait import wait_for
from hub.auth import passwords

TOKEN = "/api/v1/auth/token"


@pytest.fixture
def one_connection_hub(pg_dsn: str, tmp_path: Path) -> Iterator[tuple[HubApi, str]]:
    hub = build_hub(pg_dsn, tmp_path / "state", ["police"], database={"pool_size": 1})
    with hub.client, serving(hub) as base:
        yield hub, base
    hub.runtime.close()


def test_other_requests_are_served_while_a_password_is_verified(
    one_connection_hub: tuple[HubApi, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, base = one_connection_hub
    with httpx.Client(base_url=base, timeout=60) as client:
        first = client.post(TOKEN, data={"username": "police-chief", "password": PASSWORD})
        assert first.status_code == 200, first.text
        bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
        during: list[int] = []
        verify = passwords.verify_password

        def verify_while_another_request_runs(password: str, hashed: str | None) -> Any:
            # On the server's worker thread: another request needs the pool's one connection.
            with concurrent.futures.ThreadPoolExecutor(1) as other:
                during.append(other.submit(
                    lambda: httpx.get(f"{base}/api/v1/auth/me", headers=bearer, timeout=60)
                ).result(timeout=60).status_code)
            return verify(password, hashed)

        monkeypatch.setattr(passwords, "verify_password", verify_while_another_request_runs)
        second = client.post(TOKEN, data={"username": "police-chief", "password": PASSWORD})
    assert second.status_code == 200, second.text
    assert during == [200]  # answered during the verification, not after a pool timeout
    stats = hub.runtime.pool.get_stats()
    assert stats.get("requests_errors", 0) == 0 and stats.get("requests_timeouts", 0) == 0


def test_liveness_is_answered_while_every_worker_thread_waits_on_the_database(
    one_connection_hub: tuple[HubApi, str],
) -> None:
    """The pool's one connection is stuck behind a lock the owner holds, and 60 requests
    (more than the server's 40 worker threads) wait for it: /healthz still answers, so an
    orchestrator does not restart a hub that is only busy."""
    hub, base = one_connection_hub
    token = hub.login("police-chief")["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    with hub.owner() as owner, concurrent.futures.ThreadPoolExecutor(60) as pool:
        with owner.transaction():
            owner.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")  # auth reads users
            stuck = [pool.submit(httpx.get, f"{base}/api/v1/auth/me", headers=bearer,
                                 timeout=120) for _ in range(60)]
            # one worker holds the connection, blocked; the other 39 wait for it
            wait_for(lambda: hub.runtime.pool.get_stats().get("requests_waiting", 0) >= 39,
                     timeout=60, what="every worker thread waiting on the database")
            with httpx.Client(base_url=base, timeout=30) as probe:
                live = probe.get("/healthz")
            done_before = [f.done() for f in stuck]
        answers = [f.result(timeout=120).status_code for f in stuck]  # the lock is gone
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert not any(done_before)
    assert set(answers) <= {200, 503}, answers
