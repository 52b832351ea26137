"""The audit log on a real PostgreSQL: what the API records, that its role cannot change
history, and that ``cityhub audit verify`` and the API endpoint catch edits, deletions,
reordering and truncation."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from devkit.fixtures.hubapi import HubApi
from hub.audit import roots, signing


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from hub.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _make_history(hub: HubApi) -> None:
    c = hub.client
    for dept in ("police", "traffic", "bus"):
        hub.headers(dept)  # logins
    c.post("/api/v1/sites", json={"id": "s1", "name": "Site 1"}, headers=hub.headers("police"))
    c.post(
        "/api/v1/grants",
        headers=hub.headers("police"),
        json={
            "grantee": "traffic",
            "resources": ["events"],
            "purpose": "incident 42",
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )


def test_api_role_cannot_rewrite_history(hub_api: HubApi) -> None:
    _make_history(hub_api)
    api = hub_api.runtime.pool
    with api.connection() as conn:
        for statement in (
            "UPDATE audit_log SET actor = 'x'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with conn.transaction():
                    conn.execute(statement)


def test_verify_detects_edit_delete_reorder(hub_api: HubApi, tmp_path: Path) -> None:
    _make_history(hub_api)
    c = hub_api.client
    auditor = hub_api.headers("police")
    ok = c.get("/api/v1/audit/verify", headers=auditor).json()
    assert ok["ok"] and ok["entries"] >= 5
    assert _cli("audit", "--dsn", hub_api.owner_dsn, "verify").returncode == 0

    # the police auditor sees police entries, not the bus login
    entries = c.get("/api/v1/audit", headers=auditor).json()["items"]
    actions = {e["action"] for e in entries}
    assert {"auth.login", "site.create", "grant.create"} <= actions
    assert all("police" in (e["department"], e["actor_department"]) for e in entries)

    tampering = {
        "edit": 'UPDATE audit_log SET detail = \'{"purpose": "nothing"}\''
        " WHERE action = 'grant.create'",
        "delete": "DELETE FROM audit_log WHERE seq = 2",
        "reorder": "UPDATE audit_log SET seq = -seq WHERE seq IN (2, 3);"
        " UPDATE audit_log SET seq = CASE seq WHEN -2 THEN 3 ELSE 2 END WHERE seq < 0",
    }
    with hub_api.owner() as owner:
        snapshot = owner.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
        columns = [
            d.name for d in owner.execute("SELECT * FROM audit_log LIMIT 0").description or []
        ]
        for name, statement in tampering.items():
            owner.execute("BEGIN")
            owner.execute(statement)
            owner.execute("COMMIT")
            result = c.get("/api/v1/audit/verify", headers=auditor).json()
            assert not result["ok"], name
            assert _cli("audit", "--dsn", hub_api.owner_dsn, "verify").returncode == 1, name
            # restore the original rows for the next case
            owner.execute("BEGIN")
            owner.execute("DELETE FROM audit_log")
            with owner.cursor().copy(f"COPY audit_log ({', '.join(columns)}) FROM STDIN") as cp:
                for row in snapshot:
                    cp.write_row([json.dumps(v) if isinstance(v, dict) else v for v in row])
            owner.execute("COMMIT")
            assert c.get("/api/v1/audit/verify", headers=auditor).json()["ok"], name


def test_truncated_tail_is_caught_by_an_exported_root(hub_api: HubApi, tmp_path: Path) -> None:
    _make_history(hub_api)
    key = signing.load_or_create(tmp_path / "key.pem")
    (tmp_path / "pub.pem").write_text(signing.public_pem(key))
    today = datetime.now(UTC).date()
    with hub_api.owner() as owner:
        path = roots.export(owner, today, key, tmp_path / "roots")
        root = json.loads(path.read_text())
        assert roots.check_root(owner, root, key.public_key()) is None
        args = [
            "audit",
            "--dsn",
            hub_api.owner_dsn,
            "verify",
            "--roots",
            str(tmp_path / "roots"),
            "--public-key",
            str(tmp_path / "pub.pem"),
        ]
        assert _cli(*args).returncode == 0
        # dropping the newest entries leaves a valid-looking chain: only the root shows it
        owner.execute("DELETE FROM audit_log WHERE seq > %s", (root["head_seq"] - 2,))
        assert _cli("audit", "--dsn", hub_api.owner_dsn, "verify").returncode == 0
        failed = _cli(*args)
        assert failed.returncode == 1 and "truncated" in failed.stdout
        forged = dict(root, head_seq=1)
        assert "signature" in (roots.check_root(owner, forged, key.public_key()) or "")

    api_root = hub_api.client.get(f"/api/v1/audit/roots/{today}", headers=hub_api.headers("police"))
    body = api_root.json()
    assert api_root.status_code == 200 and body["key_id"] == signing.key_id(
        hub_api.runtime.signing_key
    )


def test_concurrent_writers_keep_one_chain(hub_api: HubApi) -> None:
    from concurrent.futures import ThreadPoolExecutor

    headers = [hub_api.headers(d) for d in ("police", "traffic", "citymgmt", "overload")]

    def hit(i: int) -> int:
        return hub_api.client.get("/api/v1/grants", headers=headers[i % 4]).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(hit, range(40))) == {200}
    result = hub_api.client.get("/api/v1/audit/verify", headers=headers[0]).json()
    assert result["ok"], result["problems"]


def test_group_committed_entries_keep_one_chain(hub_api: HubApi) -> None:
    from concurrent.futures import ThreadPoolExecutor

    batcher = hub_api.runtime.audit

    def submit(i: int) -> None:
        batcher.submit({"actor": "t", "action": "events.query", "detail": {"i": i}}).result(30)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(submit, range(200)))
    with hub_api.owner() as conn:
        n = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'events.query'").fetchone()
    assert n == (200,)
    result = hub_api.client.get("/api/v1/audit/verify", headers=hub_api.headers("police")).json()
    assert result["ok"], result["problems"]
