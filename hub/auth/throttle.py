"""Growing delays after failed logins, per source, per (account, source) and per account.

State is the table ``login_throttle`` (migration 0013) so that every hub process applies
the same delays; times come from the caller (``Runtime.clock``), never from the database.
The account-wide delay holds back only sources that have themselves failed on that account,
so a stranger cannot keep the account's owner out (hub/auth/README.md, Login throttle).
Unknown and known usernames are keyed alike: the answers do not tell them apart.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import psycopg

from hub.auth.settings import LoginThrottle

#: First key of the two-key advisory lock that serialises one source's login attempts.
LOCK_SPACE = 0x10C1


def delay(failures: int, free: int, first_s: float, cap_s: float) -> float:
    """Seconds to wait after ``failures`` failures: none for the free ones, then doubling."""
    if failures <= free:
        return 0.0
    return float(min(first_s * 2 ** min(failures - free - 1, 30), cap_s))


def retry_after(wait_s: float) -> int:
    """The Retry-After header's whole seconds for a wait (at least 1)."""
    return max(1, math.ceil(wait_s))


def _keys(username: str, source: str) -> list[tuple[str, str, str]]:
    return [("source", "", source), ("pair", username, source), ("account", username, "")]


def wait_s(
    conn: psycopg.Connection[Any], cfg: LoginThrottle, username: str, source: str, now: datetime
) -> float:
    """Seconds this source must still wait before trying ``username`` (0: go ahead).

    Takes a transaction-scoped lock on the source first, so that its parallel attempts
    in any hub process are checked and counted one after another."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_SPACE, source))
    live = now - timedelta(seconds=cfg.forget_s)
    rows = conn.execute(
        "SELECT kind, failures, last_failed_at FROM login_throttle"
        " WHERE (kind, username, source) IN ((%s, %s, %s), (%s, %s, %s), (%s, %s, %s))"
        " AND last_failed_at >= %s",
        [v for key in _keys(username, source) for v in key] + [live],
    ).fetchall()
    found = {kind: (failures, at) for kind, failures, at in rows}
    limits = {
        "source": (cfg.source_free_failures, cfg.max_delay_s),
        "pair": (cfg.pair_free_failures, cfg.max_delay_s),
        "account": (cfg.account_free_failures, cfg.account_max_delay_s),
    }
    if "pair" not in found:  # a source with no failure of its own on the account passes
        found.pop("account", None)
    waits = [0.0]
    for kind, (failures, at) in found.items():
        free, cap = limits[kind]
        until = at + timedelta(seconds=delay(failures, free, cfg.first_delay_s, cap))
        waits.append((until - now).total_seconds())
    return max(waits)


def failed(
    conn: psycopg.Connection[Any], cfg: LoginThrottle, username: str, source: str, now: datetime
) -> None:
    """Count a failed login against the source, the (account, source) pair and the account;
    keys idle longer than ``forget_s`` start over and are purged."""
    live = now - timedelta(seconds=cfg.forget_s)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO login_throttle (kind, username, source, failures, last_failed_at)"
            " VALUES (%s, %s, %s, 1, %s) ON CONFLICT (kind, username, source) DO UPDATE SET"
            " failures = CASE WHEN login_throttle.last_failed_at < %s THEN 1"
            " ELSE login_throttle.failures + 1 END, last_failed_at = EXCLUDED.last_failed_at",
            [(*key, now, live) for key in _keys(username, source)],
        )
    conn.execute("DELETE FROM login_throttle WHERE last_failed_at < %s", (live,))


def succeeded(conn: psycopg.Connection[Any], username: str, source: str) -> None:
    """A good password from this source clears its (account, source) state."""
    conn.execute(
        "DELETE FROM login_throttle WHERE kind = 'pair' AND username = %s AND source = %s",
        (username, source),
    )


def lift(conn: psycopg.Connection[Any], username: str) -> int:
    """An admin's unlock: forget the account's failures from every source (not the sources'
    own counts, which hold back whoever failed on other accounts too). Returns keys cleared."""
    cur = conn.execute(
        "DELETE FROM login_throttle WHERE kind IN ('pair', 'account') AND username = %s",
        (username,),
    )
    return cur.rowcount


def held_until(
    conn: psycopg.Connection[Any], cfg: LoginThrottle, usernames: list[str], now: datetime
) -> dict[str, datetime]:
    """Per username, until when its failed logins still hold back some source (only those
    still waiting), for the admins' user list: what an unlock would lift."""
    rows = conn.execute(
        "SELECT kind, username, failures, last_failed_at FROM login_throttle"
        " WHERE kind IN ('pair', 'account') AND username = ANY(%s) AND last_failed_at >= %s",
        (usernames, now - timedelta(seconds=cfg.forget_s)),
    ).fetchall()
    limits = {"pair": (cfg.pair_free_failures, cfg.max_delay_s),
              "account": (cfg.account_free_failures, cfg.account_max_delay_s)}
    with_pair = {username for kind, username, _, _ in rows if kind == "pair"}
    out: dict[str, datetime] = {}
    for kind, username, failures, at in rows:
        if username not in with_pair:  # the account key holds back only sources that failed
            continue
        free, cap = limits[kind]
        until = at + timedelta(seconds=delay(failures, free, cfg.first_delay_s, cap))
        if until > max(now, out.get(username, now)):
            out[username] = until
    return out
