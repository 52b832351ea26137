"""Camera credentials at rest: sealed with Fernet, written through a function the API may
call but whose table it cannot read (migration 0002_access). Only the relay unseals."""

from __future__ import annotations

import json
import logging
from typing import Any

import psycopg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)


class CredentialBox:
    def __init__(self, fernet_key: bytes, *older: bytes) -> None:
        """Seals with ``fernet_key``; opens with it or any of ``older``."""
        self._fernet = MultiFernet([Fernet(k) for k in (fernet_key, *older)])

    def seal(self, url: str, username: str | None, password: str | None) -> bytes:
        body = json.dumps({"url": url, "username": username, "password": password})
        return self._fernet.encrypt(body.encode())

    def unseal(self, sealed: bytes) -> dict[str, str | None]:
        try:
            return dict(json.loads(self._fernet.decrypt(sealed)))
        except InvalidToken as exc:
            raise ValueError("camera credentials do not open with this key") from exc

    def store(
        self,
        conn: psycopg.Connection[Any],
        camera_id: str,
        url: str,
        username: str | None,
        password: str | None,
    ) -> None:
        conn.execute(
            "SELECT cityhub_set_camera_secret(%s, %s)",
            (camera_id, self.seal(url, username, password)),
        )


def read_for_relay(
    conn: psycopg.Connection[Any], box: CredentialBox, camera_id: str
) -> dict[str, str | None] | None:
    """The relay's way in (connects as the owner, not as the API role)."""
    row = conn.execute(
        "SELECT sealed FROM camera_secrets WHERE camera_id = %s", (camera_id,)
    ).fetchone()
    return box.unseal(bytes(row[0])) if row else None


def cameras_for_relay(conn: psycopg.Connection[Any], box: CredentialBox) -> list[dict[str, Any]]:
    """Every camera in the store with a way in (not retired), for the relays that pull them
    (as the owner: the API role reads neither other departments' cameras nor secrets)."""
    rows = conn.execute(
        "SELECT c.id, c.department_id, c.always_on, c.recording, s.sealed FROM cameras c"
        " JOIN camera_secrets s ON s.camera_id = c.id WHERE c.retired_at IS NULL ORDER BY c.id"
    ).fetchall()
    out = []
    for camera_id, department, always_on, recording, sealed in rows:
        try:
            creds = box.unseal(bytes(sealed))
        except ValueError:  # sealed under a key no longer held: that camera is left out
            log.warning("camera %s: credentials do not open with the hub's keys", camera_id)
            continue
        if creds.get("url"):
            out.append({"id": camera_id, "department": department, "always_on": always_on,
                        "recording": recording, **creds})
    return out
