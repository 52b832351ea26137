"""Bring a database up for the hub from the configuration: schema, registry, camera
credentials (sealed), and optionally demo logins and a demo grant.

``cityhub hub seed`` runs it; the demo calls :func:`seed` before starting the API.
Demo passwords are random, kept in ``state_dir/demo-logins.json`` (0600) so that
they stay the same across demo restarts.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from core.files import write_private
from hub.auth import accounts, keys
from hub.auth.credentials import CredentialBox
from hub.config import CityConfig
from hub.store import migrate
from hub.store.registry import sync_registry

DEMO_ROLES = {
    "admin": ["admin", "auditor", "supervisor"],
    "operator": ["operator", "analyst"],
}


def _logins(path: Path, departments: list[str]) -> dict[str, str]:
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for d in departments:
        for kind in DEMO_ROLES:
            known.setdefault(f"{d}-{kind}", secrets.token_urlsafe(12))
    write_private(path, json.dumps(known, indent=2))
    return known


def seed(config: CityConfig, demo_users: bool = False) -> list[tuple[str, str, str, list[str]]]:
    """Migrate, sync the registry, seal camera credentials; returns demo logins created/kept."""
    assert config.database.url is not None
    dsn = config.database.url.get_secret_value()
    migrate.upgrade(dsn)

    async def registry() -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            await sync_registry(conn, config)

    asyncio.run(registry())
    access = config.access
    explicit = access.credentials_key.get_secret_value() if access.credentials_key else None
    box = CredentialBox(*keys.credentials_fernet_keys(explicit, config.hub.verification_secrets()))
    logins: list[tuple[str, str, str, list[str]]] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for cam in config.cameras:
            box.store(conn, cam.id, cam.url.get_secret_value(), cam.username,
                      cam.password.get_secret_value() if cam.password else None)
        if demo_users:
            passwords = _logins(config.state_dir / "demo-logins.json",
                                [d.id for d in config.departments])
            for d in config.departments:
                for kind, roles in DEMO_ROLES.items():
                    name = f"{d.id}-{kind}"
                    exists = conn.execute("SELECT 1 FROM users WHERE username = %s", (name,))
                    if exists.fetchone() is None:
                        accounts.create_user(conn, name, passwords[name], d.id, roles)
                    logins.append((name, passwords[name], d.id, roles))
            _demo_grant(conn, config)
            _demo_rules(conn, config)
    return logins


#: (department, name, event kinds, incident kind, priority, dispatched to)
DEMO_RULES = [
    ("overload", "Overweight verdicts: intercept", ["overweight_vehicle"], "overweight", 2,
     ["traffic"]),
    ("traffic", "Illegal parking", ["illegal_parking"], "illegal_parking", 3, []),
]


def _demo_rules(conn: psycopg.Connection[Any], config: CityConfig) -> None:
    """Incident rules of the demo city: an overweight verdict at the overload station
    becomes a case dispatched to the traffic police, who see the lane camera while it is
    open; illegal parking opens a case in traffic's own queue."""
    departments = {d.id for d in config.departments}
    for dept, name, kinds, kind, priority, dispatch in DEMO_RULES:
        if dept not in departments or not set(dispatch) <= departments:
            continue
        if conn.execute("SELECT 1 FROM incident_rules WHERE department_id = %s AND name = %s",
                        (dept, name)).fetchone():
            continue
        conn.execute(
            "INSERT INTO incident_rules (department_id, name, event_kinds, incident_kind,"
            " priority, dispatch_to, merge_window_s, created_by) VALUES (%s, %s, %s, %s, %s, %s,"
            " 600, 'demo')", (dept, name, kinds, kind, priority, dispatch))


def _demo_grant(conn: psycopg.Connection[Any], config: CityConfig) -> None:
    """Traffic police share one ANPR camera and its events with Safe City, for a month."""
    ids = {c.id: c for c in config.cameras}
    if "tr-renmin-1" not in ids or conn.execute(
            "SELECT 1 FROM access_grants WHERE purpose = 'demo: joint operations'").fetchone():
        return
    conn.execute(
        "INSERT INTO access_grants (grantor_department, grantee_department, resources, cameras,"
        " purpose, expires_at, created_by) VALUES ('traffic', 'police', '{video,events}',"
        " '{tr-renmin-1}', 'demo: joint operations', %s, 'demo')",
        (datetime.now(UTC) + timedelta(days=30),))
