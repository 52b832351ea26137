"""Failed logins slow their source down and never lock the account's owner out (issue #13).

A real server (uvicorn on loopback) and PostgreSQL; callers come from distinct loopback
addresses (127.0.0.x), so ``request.client.host`` is what it is in production. The throttle's
clock is replaced by one the test moves, instead of sleeping through the delays.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from devkit.fixtures.hubapi import PASSWORD, HubApi, build_hub, serving
from hub.api.app import create_app
from hub.api.runtime import Runtime
from hub.auth.source import login_source

TOKEN = "/api/v1/auth/token"
WRONG = "not-the-password-at-all"
THROTTLE = {
    "first_delay_s": 1,
    "max_delay_s": 16,
    "pair_free_failures": 2,
    "source_free_failures": 4,
    "account_free_failures": 6,
    "account_max_delay_s": 3,
    "forget_s": 60,
}


class Clock:
    """A "now" that moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Served:
    hub: HubApi
    base: str
    clock: Clock

    def client(self, address: str, base: str | None = None) -> httpx.Client:
        """A client whose connections come from ``address`` (a loopback address)."""
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(base_url=base or self.base, transport=transport)

    def audit(self, action: str) -> list[dict[str, Any]]:
        with self.hub.owner() as conn:
            rows = conn.execute(
                "SELECT actor, target_id, detail FROM audit_log WHERE action = %s ORDER BY seq",
                (action,),
            ).fetchall()
        return [{"actor": a, "target": t, **d} for a, t, d in rows]


@pytest.fixture
def served(pg_dsn: str, tmp_path: Path) -> Iterator[Served]:
    hub = build_hub(
        pg_dsn,
        tmp_path / "state",
        ["police", "traffic", "bus"],
        access={"trusted_proxies": ["127.0.0.1/32"], "login_throttle": THROTTLE},
    )
    clock = Clock()
    hub.runtime.clock = clock
    with hub.client, serving(hub) as base:
        yield Served(hub, base, clock)
    hub.runtime.close()


def attempt(client: httpx.Client, username: str, password: str = WRONG) -> httpx.Response:
    return client.post(TOKEN, data={"username": username, "password": password})


def test_a_stranger_cannot_lock_out_a_known_user(served: Served) -> None:
    with served.client("127.0.0.2") as stranger, served.client("127.0.0.3") as owner:
        failures = 0
        while failures < 40:  # waiting out every delay: as many guesses as the throttle allows
            r = attempt(stranger, "traffic-chief")
            if r.status_code == 429:
                served.clock.advance(int(r.headers["Retry-After"]))
                continue
            assert r.status_code == 401, r.text
            failures += 1
        # the stranger's own source waits, even with the right password ...
        assert attempt(stranger, "traffic-chief", PASSWORD).status_code == 429
        # ... and the owner, from elsewhere, is not held back at all
        assert attempt(owner, "traffic-chief", PASSWORD).status_code == 200
        # The owner's typo during the attack: the account-wide delay now applies to this
        # source too, but it is short (account_max_delay_s), never a lockout.
        assert attempt(owner, "traffic-chief").status_code == 401
        r = attempt(owner, "traffic-chief", PASSWORD)
        assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 3
        served.clock.advance(int(r.headers["Retry-After"]))
        assert attempt(owner, "traffic-chief", PASSWORD).status_code == 200
    throttled = [e for e in served.audit("auth.login.failed") if e["reason"] == "throttled"]
    assert {e["source"] for e in throttled} == {"127.0.0.2", "127.0.0.3"}
    assert all(e["actor"] == "user:traffic-chief" and e["retry_after"] >= 1 for e in throttled)
    with served.hub.owner() as conn:
        log = conn.execute("SELECT string_agg(detail::text, ' ') FROM audit_log").fetchone()
    assert log is not None and WRONG not in log[0] and PASSWORD not in log[0]


def test_the_attackers_own_wait_grows_to_its_cap_in_every_hub_process(served: Served) -> None:
    waits: list[int] = []
    with served.client("127.0.0.4") as attacker:
        while len(waits) < 6:
            r = attempt(attacker, "police-chief")
            if r.status_code == 429:
                waits.append(int(r.headers["Retry-After"]))
                served.clock.advance(waits[-1])
            else:
                assert r.status_code == 401, r.text
    assert waits == [1, 2, 4, 8, 16, 16]  # after pair_free_failures, doubling up to max_delay_s

    # A second hub process on the same database refuses the same source as well.
    other = build_other(served)
    with other.client, serving(other) as base, served.client("127.0.0.4", base) as attacker:
        assert attempt(attacker, "police-chief").status_code == 401  # the wait was served
        r = attempt(attacker, "police-chief", PASSWORD)
        assert r.status_code == 429 and r.headers["Retry-After"] == "16"
    other.runtime.close()


def build_other(served: Served) -> HubApi:
    runtime = Runtime.from_config(served.hub.config)
    runtime.clock = served.clock
    client = TestClient(create_app(served.hub.config, runtime))
    return HubApi(client, served.hub.owner_dsn, served.hub.config, runtime)


def test_unknown_and_known_usernames_are_throttled_alike(served: Served) -> None:
    answers: dict[str, list[tuple[int, str | None, Any]]] = {}
    for address, username in (("127.0.0.5", "police-chief"), ("127.0.0.6", "no-such-user")):
        with served.client(address) as client:
            answers[username] = [
                (r.status_code, r.headers.get("Retry-After"), r.json())
                for r in (attempt(client, username) for _ in range(6))
            ]
    assert answers["police-chief"] == answers["no-such-user"]
    assert [status for status, _, _ in answers["no-such-user"]] == [401] * 3 + [429] * 3


def test_an_admin_lifts_the_throttle_and_it_is_audited(served: Served) -> None:
    hub = served.hub
    hub.add_user("ana", "police", ["analyst", "operator"])
    with hub.owner() as conn:
        row = conn.execute("SELECT id FROM users WHERE username = 'ana'").fetchone()
    assert row is not None
    unlock = f"/api/v1/users/{row[0]}/unlock"
    with served.client("127.0.0.7") as ana_desk, served.client("127.0.0.8") as other_desk:
        for _ in range(3):
            assert attempt(ana_desk, "ana").status_code == 401
        assert attempt(ana_desk, "ana", PASSWORD).status_code == 429
        token = attempt(other_desk, "ana", PASSWORD).json()["access_token"]
        # not an admin: refused; another department's admin: no such user
        ana = {"Authorization": f"Bearer {token}"}
        assert other_desk.post(unlock, headers=ana).status_code == 403
        assert hub.client.post(unlock, headers=hub.headers("bus")).status_code == 404
        assert attempt(ana_desk, "ana", PASSWORD).status_code == 429
        # the admins' user list shows until when her sign-ins are held back
        held = _listed(hub, "ana")["locked_until"]
        assert held and datetime.fromisoformat(held) > served.clock.now, held
        assert _listed(hub, "police-chief")["locked_until"] is None
        assert hub.client.post(unlock, headers=hub.headers("police")).status_code == 204
        assert _listed(hub, "ana")["locked_until"] is None
        assert attempt(ana_desk, "ana", PASSWORD).status_code == 200
    entries = served.audit("user.unlock")
    assert len(entries) == 1
    assert entries[0]["actor"] == "user:police-chief" and entries[0]["target"] == "ana"
    assert entries[0]["cleared"] == 2  # the account's own key and the failing desk's pair


def _listed(hub: HubApi, username: str) -> dict[str, Any]:
    users = hub.client.get("/api/v1/users", headers=hub.headers("police")).json()
    return next(u for u in users if u["username"] == username)


def test_forwarded_for_counts_only_from_a_trusted_proxy(served: Served) -> None:
    forwarded = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
    with served.client("127.0.0.1") as proxy, served.client("127.0.0.9") as direct:
        proxy.post(TOKEN, data={"username": "bus-chief", "password": WRONG}, headers=forwarded)
        direct.post(TOKEN, data={"username": "bus-chief", "password": WRONG}, headers=forwarded)
    sources = [e["source"] for e in served.audit("auth.login.failed")]
    assert sources == ["203.0.113.9", "127.0.0.9"]


def test_the_source_key() -> None:
    trusted = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]
    assert login_source("192.0.2.1", ["203.0.113.9"], trusted) == "192.0.2.1"
    assert login_source("10.1.1.1", ["203.0.113.9, 10.2.2.2"], trusted) == "203.0.113.9"
    assert login_source("10.1.1.1", ["1.1.1.1", "203.0.113.9"], trusted) == "203.0.113.9"
    assert login_source("10.1.1.1", ["not-an-address"], trusted) == "10.1.1.1"
    assert login_source("10.1.1.1", [], trusted) == "10.1.1.1"
    assert login_source("fd00::1", ["2001:db8:1:2:aaaa::1"], trusted) == "2001:db8:1:2::/64"
    assert login_source("::ffff:192.0.2.5", [], trusted) == "192.0.2.5"
    assert login_source(None, [], trusted) == "unknown"
