"""Camera credentials at rest: sealed with Fernet, written through a function the API may
call but whose table it cannot read (migration 0002_access). Only the relay unseals."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet


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
