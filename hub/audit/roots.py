"""Daily audit roots: the chain's head at the end of each UTC day, signed and written out.

Copied off the hub (mailed to the auditor, printed, put in another department's
store), a root pins every entry up to it: deleting the chain's tail or rebuilding
it from some point on no longer matches the exported head hash.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.audit import signing


def day_root(conn: psycopg.Connection[Any], day: date) -> dict[str, Any]:
    """The last entry written before the end of ``day`` (UTC) and how many precede it."""
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    row = conn.execute(
        "SELECT seq, hash FROM audit_log WHERE at < %s ORDER BY seq DESC LIMIT 1", (end,)
    ).fetchone()
    seq, head = (row[0], row[1]) if row else (0, "0" * 64)
    return {"date": day.isoformat(), "head_seq": seq, "head_hash": head}


def _payload(root: dict[str, Any]) -> bytes:
    body = {k: root[k] for k in ("date", "head_seq", "head_hash", "key_id")}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def signed_root(conn: psycopg.Connection[Any], day: date, key: Ed25519PrivateKey) -> dict[str, Any]:
    root = day_root(conn, day) | {"key_id": signing.key_id(key)}
    root["signature"] = signing.sign(key, _payload(root))
    return root


def export(conn: psycopg.Connection[Any], day: date, key: Ed25519PrivateKey, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"audit-root-{day.isoformat()}.json"
    path.write_text(json.dumps(signed_root(conn, day, key), indent=2) + "\n")
    return path


def check_root(
    conn: psycopg.Connection[Any], root: dict[str, Any], public: Ed25519PublicKey | None = None
) -> str | None:
    """None when the stored chain still contains the exported head; else what is wrong."""
    if public is not None and not signing.verify(public, _payload(root), root.get("signature", "")):
        return f"root {root['date']}: signature does not verify"
    if root["head_seq"] == 0:
        return None
    row = conn.execute("SELECT hash FROM audit_log WHERE seq = %s", (root["head_seq"],)).fetchone()
    if row is None:
        return f"root {root['date']}: entry {root['head_seq']} is missing (log truncated)"
    if row[0] != root["head_hash"]:
        return f"root {root['date']}: entry {root['head_seq']} no longer has the exported hash"
    return None
